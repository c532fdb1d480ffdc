"""Synthetic control per treated authority (Abadie, Diamond & Hainmueller), as a robustness check.

Weights are non-negative, sum to one and minimise the squared gap between the treated authority's
pre-treatment outcomes and the weighted comparison authorities'. No covariates: the pre-period outcome
path is the whole predictor set. The effect is the mean post-period gap; inference is by placebo in
space (each comparison authority in turn as if treated), ranking post/pre root-mean-square-gap ratios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import nnls

from cscvault.errors import DataError

FloatArray = NDArray[np.float64]

# The sum-to-one constraint enters NNLS as an extra row scaled by this factor times the data scale;
# large enough that the weights sum to one within 1e-6 before the final renormalisation.
_SUM_ROW_SCALE = 1e3


def simplex_weights(donors_pre: FloatArray, target_pre: FloatArray) -> FloatArray:
    """Weights w >= 0, sum(w) = 1, minimising ||donors_pre @ w - target_pre||^2 (donors in columns)."""
    if donors_pre.ndim != 2 or donors_pre.shape[0] != target_pre.shape[0]:
        raise DataError("synthetic control: donor and target pre-periods do not line up")
    scale = _SUM_ROW_SCALE * max(1.0, float(np.abs(donors_pre).max()), float(np.abs(target_pre).max()))
    a = np.vstack([donors_pre, np.full((1, donors_pre.shape[1]), scale)])
    b = np.concatenate([target_pre, [scale]])
    w, _ = nnls(a, b, maxiter=50 * a.shape[1])
    total = w.sum()
    if total <= 0:
        raise DataError("synthetic control: no admissible weights")
    return np.asarray(w / total)


@dataclass(frozen=True)
class SyntheticControl:
    unit: str
    times: tuple[int, ...]
    first_treated: int
    treated: FloatArray  # outcome path of the treated unit
    synthetic: FloatArray  # weighted donor path
    weights: dict[str, float]  # donor -> weight (only weights above 0.001)
    pre_rmspe: float
    post_rmspe: float
    effect: float  # mean post-period gap
    placebo_effects: FloatArray
    placebo_ratios: FloatArray
    p_value: float  # share of units (placebos and the treated) with a post/pre ratio at least the treated's

    @property
    def gaps(self) -> FloatArray:
        return np.asarray(self.treated - self.synthetic)


def _fit(
    y_pre: FloatArray, y_post: FloatArray, d_pre: FloatArray, d_post: FloatArray
) -> tuple[FloatArray, float, float, float]:
    w = simplex_weights(d_pre, y_pre)
    gap_pre = y_pre - d_pre @ w
    gap_post = y_post - d_post @ w
    pre = float(np.sqrt(np.mean(gap_pre**2)))
    post = float(np.sqrt(np.mean(gap_post**2)))
    return w, pre, post, float(np.mean(gap_post))


def synthetic_control(
    unit: str,
    y_treated: FloatArray,
    donors: dict[str, FloatArray],
    times: tuple[int, ...],
    first_treated: int,
    *,
    placebos: bool = True,
) -> SyntheticControl:
    """Fit one treated unit against `donors` (name -> outcome path over `times`, complete)."""
    pre = np.array([t < first_treated for t in times])
    if pre.sum() < 2 or (~pre).sum() < 1:
        raise DataError(f"synthetic control for '{unit}': needs two pre-periods and one post-period")
    names = list(donors)
    d = np.column_stack([donors[n] for n in names])
    if np.isnan(d).any() or np.isnan(y_treated).any():
        raise DataError(f"synthetic control for '{unit}': outcome paths must be complete")
    w, pre_rmspe, post_rmspe, effect = _fit(y_treated[pre], y_treated[~pre], d[pre], d[~pre])
    p_eff: list[float] = []
    p_ratio: list[float] = []
    if placebos:
        for j in range(d.shape[1]):
            others = np.delete(d, j, axis=1)
            _, pr, po, ef = _fit(d[pre, j], d[~pre, j], others[pre], others[~pre])
            p_eff.append(ef)
            p_ratio.append(po / pr if pr > 0 else np.inf)
    ratio = post_rmspe / pre_rmspe if pre_rmspe > 0 else np.inf
    ratios = np.array(p_ratio)
    p = float((1 + np.sum(ratios >= ratio)) / (1 + ratios.size)) if placebos else float("nan")
    return SyntheticControl(
        unit=unit,
        times=times,
        first_treated=first_treated,
        treated=np.asarray(y_treated, dtype=float),
        synthetic=np.asarray(d @ w),
        weights={n: float(v) for n, v in zip(names, w, strict=True) if v > 1e-3},
        pre_rmspe=pre_rmspe,
        post_rmspe=post_rmspe,
        effect=effect,
        placebo_effects=np.array(p_eff),
        placebo_ratios=ratios,
        p_value=p,
    )
