"""Ingest: the pure steps (read, screen, minimise, recode, validate, link) and the rule registry.

Entry point for the vault layer: `cscvault.ingest.pipeline.read_and_screen(path, study)`, which
returns a `ScreenedDelivery`; pseudonymise with `cscvault.vault.pseudonyms.pseudonymise_frame`.
"""
