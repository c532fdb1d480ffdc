"""The local web console: `create_app` in app.py, served by `cscvault serve` (cli.py). See README.md."""
