"""The API's operations that need no vault: the study's documents, the design's properties, reading a CSV
for the standalone models, and an age identity file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cscvault.analysis.power import minimum_detectable_effect, stepped_wedge_power, study_design
from cscvault.errors import DataError, UsageError
from cscvault.study import Study, load_study
from cscvault.study.notice import render_notice as _render_notice
from cscvault.study.record import render_record as _render_record
from cscvault.vault.identity import parse_identity

if TYPE_CHECKING:
    from cscvault.analysis.did.plan import DidPlanConfig


def render_notice(study_path: Path | None = None, fmt: str = "md") -> str:
    """The privacy notice for a study, as Markdown or HTML."""
    return _render_notice(load_study(study_path), fmt)


def render_record(study_path: Path | None = None, fmt: str = "md") -> str:
    """The Article 30 record of processing, as Markdown or HTML."""
    return _render_record(load_study(study_path), fmt)


def analyse_did(out_dir: Path, study_path: Path | None = None) -> dict[str, object]:
    """The supplementary difference-in-differences on published DfE statistics (no vault: public data)."""
    return run_did_plan(Path(out_dir), load_study(study_path))


def run_did_plan(out_dir: Path, study: Study, *, config: DidPlanConfig | None = None) -> dict[str, Any]:
    """The DiD plan with its report in the main report's style (`report.did`)."""
    # The DiD stack is heavy; only these commands need it.
    from cscvault.analysis.did.plan import run_did_plan as run
    from cscvault.report.did import render_document

    return run(Path(out_dir), study, render=render_document, config=config)


def study(study_path: Path | None = None) -> Study:
    """The study (the shipped default when no path is given), validated."""
    return load_study(study_path)


def read_model_csv(path: Path) -> pd.DataFrame:
    """Read a CSV for modelling; unreadable or malformed files are one-line errors naming the file."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None


def design_power(
    study_path: Path | None,
    children: int,
    baseline_risk: float,
    risk_difference: float,
    icc: float,
    cac: float,
    alpha: float,
) -> dict[str, Any]:
    """Power to detect a risk difference, and the minimum detectable effect at 80% power (Hussey-Hughes GLS),
    for the study's wedges with `children` spread evenly over the cluster-periods."""
    wedges, n_periods = study_design(load_study(study_path))
    size = children / (len(wedges) * n_periods)
    res = stepped_wedge_power(
        wedges,
        n_periods,
        size,
        baseline_risk=baseline_risk,
        risk_difference=risk_difference,
        icc=icc,
        cac=cac,
        alpha=alpha,
    )
    return {
        **res.as_dict(),
        "wedges": wedges,
        "clusters": len(wedges),
        "periods": n_periods,
        "children": children,
        "cluster_period_size": size,
        "icc": icc,
        "cac": cac,
        "baseline_risk": baseline_risk,
        "risk_difference": risk_difference,
        "test": POWER_TEST if res.df is None else f"two-sided t test with {res.df:g} df on the GLS estimate",
        "minimum_detectable_risk_difference_80": minimum_detectable_effect(res.se, alpha=alpha),
    }


# What `design_power` assumes about the analysis (stated with every result: a power figure means nothing
# without the test it is the power of).
POWER_TEST = (
    "two-sided Wald z test of the risk difference, GLS variance of Hussey and Hughes (2007) with a cluster "
    "autocorrelation (Hooper et al. 2016); linear (risk-scale) model, equal cluster-period sizes"
)


def read_identity_file(path: Path) -> Any:
    """An age identity (secret key) from a file, for decrypting a backup."""
    try:
        return parse_identity(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the identity file ({exc.strerror})") from None
