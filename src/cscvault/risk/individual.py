"""Individual re-identification risk under the Benedetti-Franconi model, and the global risk.

A record in a key combination seen fk times in the sample and estimated Fk times in the population has
risk r = E(1/F | fk), the chance that an intruder who matches it on the keys picks the right person, with
F - fk negative binomial given the sampling fraction p = fk/Fk (Benedetti and Franconi 1998; Franconi and
Polettini 2004, "Individual risk estimation in mu-Argus: a review", PSD 2004, LNCS 3050, 262-272).

`approx` is the closed form sdcMicro's `indivRisk` and `measure_risk` use by default: for fk = 1 and 2 the
exact values, for fk >= 3 the approximation p / (fk - (1 - p)). `exact` evaluates E(1/F) itself, as
r = integral over t in (0, 1) of t^(fk-1) (p / (1 - (1 - p) t))^fk dt, by Gauss-Legendre quadrature after the
substitution x = log(p + (1 - p) s), s = 1 - t, which flattens the integrand's peak near t = 1.

Without a population frame (every weight 1) Fk = fk, p = 1 and both give 1/fk.
The global risk is the sum of the individual risks (the expected number of re-identifications, ER)
divided by the number of records (sdcMicro `measure_risk`: global_risk_ER, global_risk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cscvault.risk.frequencies import FloatArray, densify

_SERIES_TERMS = 80
_GL_NODES = 200


def individual_risk(fk: FloatArray, Fk: FloatArray, method: str = "approx") -> FloatArray:  # noqa: N803
    """Per-record risk r = E(1/F | fk, Fk). Fk below fk (a population frame smaller than the sample) is
    taken as fk (p = 1)."""
    fk = np.asarray(fk, dtype=np.float64)
    Fk = np.maximum(np.asarray(Fk, dtype=np.float64), fk)  # noqa: N806
    if method not in ("approx", "exact"):
        raise ValueError(f"unknown method {method!r}")
    # Evaluate once per distinct (fk, Fk) pair: there are far fewer pairs than records.
    f_code, f_values = pd.factorize(fk)
    F_code, F_values = pd.factorize(Fk)  # noqa: N806
    pair, d = densify(f_code.astype(np.int64) * len(F_values) + F_code, len(f_values) * len(F_values))
    first = np.zeros(d, dtype=np.int64)
    first[pair] = np.arange(len(pair))  # any record of each pair stands for it
    f, p = fk[first], fk[first] / Fk[first]
    r = np.empty(d)
    one, two, more = f == 1, f == 2, f >= 3
    r[one] = _r1(p[one])
    r[two] = _r2(p[two])
    r[more] = p[more] / (f[more] - (1 - p[more])) if method == "approx" else _exact(f[more], p[more])
    return r[pair]


def _r1(p: FloatArray) -> FloatArray:
    """fk = 1: p/(1-p) log(1/p); 1 at p = 1 (the limit)."""
    q = 1.0 - p
    out = np.ones_like(p)
    inner = q > 0
    out[inner] = -p[inner] * np.log1p(-q[inner]) / q[inner]
    return out


def _r2(p: FloatArray) -> FloatArray:
    """fk = 2: p/(1-p) - (p/(1-p))^2 log(1/p), written as the series p * sum_{k>=1} q^(k-1) / (k(k+1)) when
    q = 1-p is small, where the closed form cancels catastrophically."""
    q = 1.0 - p
    out = np.empty_like(p)
    small = q < 0.5
    k = np.arange(1, _SERIES_TERMS + 1, dtype=np.float64)
    out[small] = p[small] * (q[small, None] ** (k - 1) / (k * (k + 1))).sum(axis=1)
    big = ~small
    ratio = p[big] / q[big]
    out[big] = ratio - ratio**2 * -np.log(p[big])
    return out


def _exact(f: FloatArray, p: FloatArray) -> FloatArray:
    """E(1/F) for F - f ~ NegBin(f, p), by quadrature (see the module docstring)."""
    nodes, weights = np.polynomial.legendre.leggauss(_GL_NODES)
    out = np.empty_like(p)
    for i, (fi, pi) in enumerate(zip(f, p, strict=True)):
        if pi >= 1.0:
            out[i] = 1.0 / fi
            continue
        qi = 1.0 - pi
        lo = np.log(pi)
        x = lo / 2 * (1 - nodes)  # maps [-1, 1] onto [log p, 0]
        s = (np.exp(x) - pi) / qi
        # integrand in x: (1-s)^(f-1) p^f e^{-f x} e^{x} / q, in logs for large f
        log_g = (fi - 1) * np.log1p(-np.minimum(s, 1 - 1e-300)) + fi * (np.log(pi) - x) + x - np.log(qi)
        out[i] = float(np.sum(weights * np.exp(log_g)) * (-lo) / 2)
    return out


@dataclass(frozen=True)
class GlobalRisk:
    records: int
    expected_reidentifications: float  # ER = sum of r
    global_risk: float  # ER / records

    @property
    def global_risk_pct(self) -> float:
        return 100.0 * self.global_risk


def global_risk(risk: FloatArray) -> GlobalRisk:
    er = float(np.nansum(risk))
    n = len(risk)
    return GlobalRisk(n, er, er / n if n else 0.0)
