"""Readers, one per return format, chosen by content (`registry.detect`).

Each reader stages canonical tables with raw values; `cscvault.ingest.pipeline.read_and_screen` runs
the pure ingest steps on them. Shared records (`Finding`, `QuarantineItem`) live in `base`.
"""
