"""Frequency counts of key combinations: sample counts fk, estimated population counts Fk, k-anonymity and
l-diversity.

Keys arrive as an (n, m) integer matrix from `encode_keys`, each column coded 0..c-1 with -1 for missing.
A missing value matches every value of its variable, as in sdcMicro's `freqCalc` (Templ, Kowarik and Meindl
2015, section 3.1): a record's fk counts every record that agrees with it on each key where both are
observed. Without missing values this is the ordinary count of the record's combination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
MISSING = -1
# When a combined code's range is at most this many times the number of rows, densify it with a counting
# table instead of hashing (a bincount and a cumulative sum are several times faster than a hash table).
_DENSE_FACTOR = 8


def encode_keys(frame: pd.DataFrame, keys: Sequence[str]) -> IntArray:
    """Code each key column 0..c-1 (in order of first appearance), missing as -1."""
    out = np.empty((len(frame), len(keys)), dtype=np.int64)
    for j, key in enumerate(keys):
        codes, _ = pd.factorize(frame[key], use_na_sentinel=True)
        out[:, j] = codes
    return out


def densify(code: IntArray, bound: int) -> tuple[IntArray, int]:
    """Renumber non-negative codes below `bound` as 0..d-1; returns the codes and d."""
    if bound <= _DENSE_FACTOR * max(len(code), 1):
        present = np.zeros(bound, dtype=bool)
        present[code] = True
        rank = np.cumsum(present) - 1
        return rank[code], int(rank[-1] + 1) if bound else 0
    dense, uniques = pd.factorize(code)
    return dense.astype(np.int64, copy=False), len(uniques)


def combine(codes: IntArray) -> tuple[IntArray, int]:
    """One dense code per distinct row of a matrix of non-negative codes (missing must be recoded first)."""
    n, m = codes.shape
    if m == 0:
        return np.zeros(n, dtype=np.int64), 1 if n else 0
    code, d = densify(codes[:, 0], int(codes[:, 0].max()) + 1 if n else 0)
    for j in range(1, m):
        card = int(codes[:, j].max()) + 1 if n else 1
        code, d = densify(code * card + codes[:, j], d * card)
    return code, d


@dataclass(frozen=True)
class Frequencies:
    """Per record: the sample count fk and the estimated population count Fk of its key combination."""

    fk: FloatArray
    Fk: FloatArray

    @property
    def uniques(self) -> int:
        return int(np.sum(self.fk == 1))


def frequencies(codes: IntArray, weights: FloatArray | None = None) -> Frequencies:
    """fk and Fk for every record. `weights` (default 1) gross each record up to the population, so Fk is
    the sum of the weights of the records that match (sdcMicro's `freqCalc` with `w`)."""
    n = codes.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    missing = codes < 0
    if not missing.any():
        code, d = combine(codes)
        fk = np.bincount(code, minlength=d).astype(np.float64)[code]
        Fk = np.bincount(code, weights=w, minlength=d).astype(np.float64)[code]  # noqa: N806
        return Frequencies(fk, Fk)
    return _frequencies_with_missing(codes, missing, w)


def _frequencies_with_missing(codes: IntArray, missing: npt.NDArray[np.bool_], w: FloatArray) -> Frequencies:
    """Group records by which keys they miss; two groups match on the keys both observe."""
    m = codes.shape[1]
    pattern = missing.astype(np.int64) @ (1 << np.arange(m, dtype=np.int64))
    groups = {int(p): np.flatnonzero(pattern == p) for p in np.unique(pattern)}
    fk = np.zeros(len(codes))
    Fk = np.zeros(len(codes))  # noqa: N806
    for p, rows_p in groups.items():
        for q, rows_q in groups.items():
            common = [j for j in range(m) if not (p >> j) & 1 and not (q >> j) & 1]
            if not common:
                fk[rows_p] += len(rows_q)
                Fk[rows_p] += w[rows_q].sum()
                continue
            both = np.concatenate([rows_p, rows_q])
            code, d = combine(codes[np.ix_(both, np.asarray(common, dtype=np.int64))])
            code_q = code[len(rows_p) :]
            fk[rows_p] += np.bincount(code_q, minlength=d)[code[: len(rows_p)]]
            Fk[rows_p] += np.bincount(code_q, weights=w[rows_q], minlength=d)[code[: len(rows_p)]]
    return Frequencies(fk, Fk)


def below_k(fk: FloatArray, k: int) -> npt.NDArray[np.bool_]:
    """Records whose key combination is shared by fewer than k records (k-anonymity violated)."""
    return np.asarray(fk < k)


def distinct_l(codes: IntArray, sensitive: npt.ArrayLike) -> IntArray:
    """Distinct l-diversity: per record, the number of distinct values of the sensitive attribute among the
    records with exactly its key combination (a missing key is a value here, as in sdcMicro's
    `ldiversity`); 1 means everyone who shares the keys shares the sensitive value."""
    shifted = codes + 1  # missing (-1) becomes its own value 0
    group, d = combine(shifted)
    values, _ = pd.factorize(pd.Series(sensitive), use_na_sentinel=False)
    pair, _ = combine(np.column_stack([group, values.astype(np.int64)]))
    # One entry per distinct (group, value) pair; count them per group.
    first = np.zeros(pair.max() + 1 if len(pair) else 0, dtype=np.int64)
    first[pair] = group
    per_group = np.bincount(first, minlength=d)
    return per_group[group].astype(np.int64)
