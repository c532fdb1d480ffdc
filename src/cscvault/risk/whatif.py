"""The trial's primary analysis re-run on recoded data: the cost of a generalisation in analytic detail.

The plan's primary model (complete case, Laplace) is fitted on the primary sample rebuilt from the recoded
referrals, children and periods of care, exactly as `analysis.samples` builds it from the analysis views.
Only the treatment estimate, its standard error and the number analysed come back.
"""

from __future__ import annotations

from typing import Any

from cscvault.analysis.primary import fit_primary_models
from cscvault.analysis.samples import load_inputs, primary_sample_from_frames
from cscvault.risk.recode import Generalisation, apply_to_inputs
from cscvault.study.model import Study


def primary_effect(con: Any, study: Study, g: Generalisation | None) -> tuple[float, float, int] | None:
    """(log odds ratio, SE, children analysed) of the treatment, or None when the sample is empty."""
    referrals, children, cla = load_inputs(con)
    if g is not None:
        referrals, children, cla = apply_to_inputs(referrals, children, cla, g)
    plan = study.analysis_plan
    sample = primary_sample_from_frames(
        referrals,
        children,
        cla,
        study,
        int(plan["samples"]["primary"]["max_age_years"]),
        int(plan["outcomes"]["cla_18m"]["window_months"]),
    )
    if sample.analysed.empty:
        return None
    fit = fit_primary_models(sample, study, strategies=("complete_case",), estimations=("laplace",))[0]
    return fit.fit.effect.estimate, fit.fit.effect.se, fit.fit.n
