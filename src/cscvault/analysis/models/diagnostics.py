"""Model diagnostics: (generalised) variance inflation factors and latent-scale ICCs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

LOGISTIC_LATENT_VARIANCE = math.pi**2 / 3


@dataclass(frozen=True)
class Vif:
    """Fox & Monette generalised VIF of a term; for a one-column term it is the ordinary VIF."""

    term: str
    gvif: float
    df: int
    gvif_adjusted: float  # GVIF^(1/(2 df)), comparable across terms of different df


def term_vifs(x: NDArray[np.float64], weights: NDArray[np.float64], terms: Mapping[str, tuple[int, ...]]) -> list[Vif]:
    """GVIF of each term from the weighted correlation matrix of the non-intercept columns.

    Weights are the trials of collapsed rows, so the result equals the VIF on child-level rows. A term
    with no columns (a factor with a single level in the data) has nothing to inflate and is left out.
    """
    cols = x[:, 1:]
    wsum = float(weights.sum())
    centred = cols - (weights @ cols) / wsum
    cov = (centred * weights[:, None]).T @ centred / wsum
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    _, logdet_all = np.linalg.slogdet(corr)
    out = []
    for name, idx in terms.items():
        j = [i - 1 for i in idx]
        if not j:
            continue
        rest = [i for i in range(corr.shape[0]) if i not in j]
        _, ld_j = np.linalg.slogdet(corr[np.ix_(j, j)])
        ld_rest = np.linalg.slogdet(corr[np.ix_(rest, rest)])[1] if rest else 0.0
        gvif = math.exp(ld_j + ld_rest - logdet_all)
        out.append(Vif(name, gvif, len(j), gvif ** (1 / (2 * len(j)))))
    return out


def latent_icc(*variances: float) -> float:
    """Share of latent-scale variance due to the given random effects (residual pi^2/3)."""
    total = sum(variances)
    return total / (total + LOGISTIC_LATENT_VARIANCE)


def cluster_autocorrelation(cluster_var: float, cluster_period_var: float) -> float:
    """Correlation of two cluster-period means of the same cluster on the latent scale (CAC)."""
    total = cluster_var + cluster_period_var
    return cluster_var / total if total > 0 else 1.0
