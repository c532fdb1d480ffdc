"""Re-identification risk of the data the vault holds, measured inside the vault.

Pure, vectorised measures over integer-coded key variables (`frequencies`, `individual`, `suda`), the
per-child key frame built from the analysis views with its population frame from published DfE counts
(`keyframe`), the candidate generalisations (`recode`), and the aggregate summary that is all that ever
leaves this package (`summary`, `whatif`). Nothing child-level is returned by the summary functions.
"""
