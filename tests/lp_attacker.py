"""An independent LP attacker for the disclosure tests (written for the tests, not the product's code).

The attacker sees released tables (a withheld cell is blank), knows the arithmetic the tables obey (given
by each test in its own words, not read from the product's declarations) and that counts are non-negative.
As a worst case it knows every published cell's exact value (not its rounded one). For each withheld cell
it solves two LPs, min and max of the cell over everything consistent with what it knows; a cell is
recovered when min and max meet.

Cells are named by (table, labels, column): the same name in two releases is the same count, so a cell is
known when any release published it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

Cell = tuple[str, tuple[str, ...], str]


@dataclass
class Knowledge:
    truth: dict[Cell, float] = field(default_factory=dict)
    published: set[Cell] = field(default_factory=set)
    # (total, parts, exact): total == sum(parts), or total >= sum(parts)
    relations: list[tuple[Cell, tuple[Cell, ...], bool]] = field(default_factory=list)

    def see(self, table: str, rows: Iterable[Mapping[str, object]], labels: Sequence[str], counts: Sequence[str],
            truth: Mapping[tuple[tuple[str, ...], str], float]) -> None:  # fmt: skip
        """A released table: rows as dicts (None or NaN = withheld); `truth` the real values by (labels, column)."""
        for row in rows:
            key = tuple(str(row[c]) for c in labels)
            for col in counts:
                cell = (table, key, col)
                self.truth[cell] = float(truth[(key, col)])
                value = row[col]
                if value is not None and not (isinstance(value, float) and np.isnan(value)):
                    self.published.add(cell)

    def relate(self, total: Cell, parts: Sequence[Cell], exact: bool = True) -> None:
        if parts and total in self.truth and all(p in self.truth for p in parts):
            self.relations.append((total, tuple(parts), exact))

    def intervals(self) -> dict[Cell, tuple[float, float]]:
        unknown = sorted(c for c in self.truth if c not in self.published)
        index = {c: i for i, c in enumerate(unknown)}
        a_eq, b_eq, a_ub, b_ub = [], [], [], []
        for total, parts, exact in self.relations:
            row = np.zeros(len(unknown))
            rhs = 0.0
            for cell, sign in [(total, 1.0), *((p, -1.0) for p in parts)]:
                if cell in index:
                    row[index[cell]] += sign
                else:
                    rhs -= sign * self.truth[cell]
            if not row.any():
                continue
            if exact:
                a_eq.append(row)
                b_eq.append(rhs)
            else:  # total - parts >= 0  ->  -(row . x) <= -rhs
                a_ub.append(-row)
                b_ub.append(-rhs)
        out: dict[Cell, tuple[float, float]] = {}
        for cell, i in index.items():
            bounds = []
            for sense in (1.0, -1.0):
                c = np.zeros(len(unknown))
                c[i] = sense
                res = linprog(
                    c,
                    A_ub=np.array(a_ub) if a_ub else None,
                    b_ub=np.array(b_ub) if b_ub else None,
                    A_eq=np.array(a_eq) if a_eq else None,
                    b_eq=np.array(b_eq) if b_eq else None,
                    bounds=[(0, None)] * len(unknown),
                    method="highs",
                )
                assert res.status in (0, 3), f"the attacker's knowledge is inconsistent ({res.status}: {res.message})"
                bounds.append(sense * res.fun if res.status == 0 else (np.inf if sense < 0 else -np.inf))
            out[cell] = (bounds[0], bounds[1])
        return out

    def recovered(self) -> list[Cell]:
        """Withheld cells the attacker pins to one value (checked to be the true one)."""
        found = []
        for cell, (lo, hi) in self.intervals().items():
            value = self.truth[cell]
            assert lo <= value + 1e-6 and hi >= value - 1e-6, "the attacker's bounds exclude the truth"
            if hi - lo < 0.5:
                found.append(cell)
        return found


FLOW_ARITHMETIC = [
    ("referred_in_window", ("excluded_age", "excluded_care_before_referral", "in_sample"), True),
    ("in_sample", ("censored", "analysed"), True),
    ("analysed", ("events",), False),
    ("in_sample", ("first_referral_ties",), False),
    ("in_sample", ("age_missing",), False),
]


def flow_arithmetic(k: Knowledge, table: str) -> None:
    """Per LA: referred = excluded (age) + excluded (care before referral) + in sample, and so on."""
    keys = {key for (t, key, _) in k.truth if t == table}
    for key in sorted(keys):
        for total, parts, exact in FLOW_ARITHMETIC:
            k.relate((table, key, total), [(table, key, p) for p in parts], exact)


def rates_arithmetic(k: Knowledge, table: str) -> None:
    """Per LA and period: events are some of the children."""
    keys = {key for (t, key, _) in k.truth if t == table}
    for key in sorted(keys):
        k.relate((table, key, "children"), [(table, key, "events")], exact=False)


def flow_rates_link(k: Knowledge, flow: str, rates: str) -> None:
    """Per LA: the flow's analysed (events) is the sum over periods of the rates' children (events)."""
    las = {key[0] for (t, key, _) in k.truth if t == flow}
    periods = {key for (t, key, _) in k.truth if t == rates}
    for la in sorted(las):
        mine = sorted(p for p in periods if p[0] == la)
        for total, part in (("analysed", "children"), ("events", "events")):
            k.relate((flow, (la,), total), [(rates, p, part) for p in mine])
