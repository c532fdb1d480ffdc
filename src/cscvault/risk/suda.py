"""SUDA scores: minimal sample uniques (MSUs) and special uniques.

An MSU of a record is a set of key variables on which the record is unique in the sample while it is not
unique on any proper subset of the set. A record is a *special unique* when it has an MSU smaller than the
full key set, i.e. it is unique on a proper subset of the keys (Elliot, Manning, Mayes, Gurd and Bane,
"SUDA: A Program for Detecting Special Uniques", 2005); special uniques are much likelier to be unique in
the population too. Each MSU of size k among m keys scores prod_{i=k}^{K} (m - i), K the largest MSU size
searched (default m - 1, so the score of an MSU is (m - k)!), and a record's SUDA score is the sum over its
MSUs (sdcMicro `suda2`, `original_scores = TRUE`). Score > 0 is exactly "special unique" with the default K.

The search (ours, not sdcMicro's): subsets of the keys are visited depth first, each node extending its
parent with a key to the left of all its keys, children in increasing order. In that order every immediate
subset of a set is visited before the set, so minimality is a look-up of bits already stored. Two facts
prune the work: (1) a record unique on a set stays unique on every superset and is alone in its
combination there, so it is dropped from the counting below that node; (2) only records unique on the
full key set can have MSUs, so only their bits are stored, and a node with none of them left has no MSU
below it. Counting uses dense integer codes (a bincount), never a sort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cscvault.risk.frequencies import FloatArray, IntArray, combine, densify


@dataclass(frozen=True)
class SudaResult:
    score: FloatArray  # per record
    min_msu_size: npt.NDArray[np.int8]  # per record: the smallest MSU size, 0 when none
    keys: int
    max_msu_size: int

    @property
    def special_uniques(self) -> int:
        """Records unique on a proper subset of the keys (score > 0)."""
        return int(np.sum(self.score > 0))


def msu_score(size: int, keys: int, max_size: int) -> float:
    """prod_{i=size}^{max_size} (keys - i): (keys - size)! when max_size = keys - 1."""
    return float(math.prod(keys - i for i in range(size, max_size + 1)))


def suda_scores(codes: IntArray, max_msu_size: int | None = None) -> SudaResult:
    """SUDA scores of every record. A missing value (-1) is one more category here, as in sdcMicro."""
    n, m = codes.shape
    max_size = (m - 1) if max_msu_size is None else min(max_msu_size, m - 1)
    score = np.zeros(n)
    min_size = np.zeros(n, dtype=np.int8)
    if n < 2 or m < 2 or max_size < 1:
        return SudaResult(score, min_size, m, max(max_size, 0))
    shifted = codes + 1
    cards = shifted.max(axis=0) + 1
    full, d = combine(shifted)
    unique_full = np.bincount(full, minlength=d)[full] == 1
    u_rows = np.flatnonzero(unique_full)
    if u_rows.size == 0:
        return SudaResult(score, min_size, m, max_size)
    pos = np.full(n, -1, dtype=np.int64)
    pos[u_rows] = np.arange(u_rows.size)
    weight = {k: msu_score(k, m, max_size) for k in range(1, max_size + 1)}
    search = _Search(shifted, cards, pos, u_rows.size, max_size, weight, score, min_size)
    everyone = np.arange(n, dtype=np.int64)
    for c in range(m):
        code, _ = densify(shifted[:, c], int(cards[c]))
        search.visit(1 << c, c, 1, everyone, code)
    return SudaResult(score, min_size, m, max_size)


class _Search:
    def __init__(
        self,
        codes: IntArray,
        cards: IntArray,
        pos: IntArray,
        n_unique: int,
        max_size: int,
        weight: dict[int, float],
        score: FloatArray,
        min_size: npt.NDArray[np.int8],
    ) -> None:
        self.codes = codes
        self.cards = cards
        self.pos = pos
        self.n_unique = n_unique
        self.max_size = max_size
        self.weight = weight
        self.score = score
        self.min_size = min_size
        # subset mask -> packed bits over the records unique on the full key set: 1 = not unique on the subset.
        # A subset with no entry has every such record unique on it (or was pruned because of that).
        self.nonunique: dict[int, npt.NDArray[np.uint8]] = {}

    def _bits_set(self, bits: npt.NDArray[np.uint8], at: IntArray) -> npt.NDArray[np.bool_]:
        flags: npt.NDArray[np.bool_] = ((bits[at >> 3] >> (7 - (at & 7))) & 1).astype(bool)
        return flags

    def visit(self, mask: int, low: int, size: int, rows: IntArray, code: IntArray) -> None:
        """`rows` are the records not unique on the parent set; `code` their combination on `mask`."""
        counts = np.bincount(code)
        single = counts[code] == 1
        candidates = rows[single]
        if candidates.size:
            at = self.pos[candidates]
            minimal = np.ones(candidates.size, dtype=bool)
            rest = mask & ~(1 << low)
            while rest and minimal.any():
                bit = rest & -rest
                rest ^= bit
                bits = self.nonunique.get(mask & ~bit)
                if bits is None:
                    minimal[:] = False
                    break
                minimal &= self._bits_set(bits, at)
            msu = candidates[minimal]
            self.score[msu] += self.weight[size]
            current = self.min_size[msu]
            self.min_size[msu] = np.where((current == 0) | (current > size), size, current)
        if size >= self.max_size:
            return
        keep = ~single
        rows, code = rows[keep], code[keep]
        at = self.pos[rows]
        at = at[at >= 0]
        if at.size == 0:
            return
        flags = np.zeros(self.n_unique, dtype=bool)
        flags[at] = True
        self.nonunique[mask] = np.packbits(flags)
        d = int(code.max()) + 1
        for c in range(low):
            child, _ = densify(code * int(self.cards[c]) + self.codes[rows, c], d * int(self.cards[c]))
            self.visit(mask | (1 << c), c, size + 1, rows, child)
