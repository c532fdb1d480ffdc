"""The analysis report: self-contained HTML with embedded plots, and results.json."""
