"""cscvault: the secure evaluation environment for children's social care trials."""

__version__ = "0.1.0"
