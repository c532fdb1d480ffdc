"""Synthetic local-authority returns in the real formats, with known truth and real-world mess.

`generate(out_dir, seed=..., children=..., effect_or=..., formats=..., clean=..., with_identifiers=...)`
writes DR1-DR3 workbooks, CIN census XML, SSDA903 CSV sets and school census CSVs for every LA of the
study, plus `truth.json` (and `bait_manifest.json` with identifiers) beside the returns.
"""

from cscvault.synth.generate import FORMATS, SynthSummary, default_children, generate, parse_formats

__all__ = ["FORMATS", "SynthSummary", "default_children", "generate", "parse_formats"]
