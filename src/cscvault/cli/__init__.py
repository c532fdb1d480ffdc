"""The `cscvault` command line: a thin typer layer over `cscvault.api` (parsing and printing only).

`app.py` holds the root app and `main`; each other module is one command group. Shared pieces: `options.py`
(arguments and their parsing), `credentials.py` (passwords from a prompt or the environment, never argv) and
`output.py` (JSON, one-line messages, progress bars).
"""

from cscvault.cli.app import app, main

__all__ = ["app", "main"]
