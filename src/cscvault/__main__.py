"""`python -m cscvault` runs the command line."""

from cscvault.cli import main

main()
