"""Secondary suppression and its exact audit by linear programming.

A release is a vector of cells (interior cells, totals, cells of linked tables) and additive
relations between them (`total = sum(parts)`, or `sum(parts) <= total` when a published total
also counts something not shown). An attacker knows every released cell, every relation and that
counts are non-negative. For a suppressed cell the attacker's knowledge is exactly the interval
[min, max] of that cell over the polytope

    { x >= 0 : x_released = released values, every relation holds },

which two linear programmes compute. A suppressed cell with value v is *protected* when that
interval reaches down to max(0, v - P) and up to v + P (P = the profile's protection), so the
attacker cannot narrow it below the protection range; with P = 0 it must at least not be pinned.

`secondary_suppression` adds cells greedily (cheapest first, each choice checked by the LP audit)
until every primary cell is protected, then verifies the whole pattern once more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

# LP results are floating point; a bound within this of the requirement counts as met.
_TOL = 1e-6
# How many cheapest candidate cells the greedy step evaluates with the LP before falling back.
_MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Relation:
    """`cells[total] == sum(cells[parts])`, or `<=` when `exact` is False."""

    total: int
    parts: tuple[int, ...]
    exact: bool = True

    def members(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Interval:
    """What an attacker can infer about one suppressed cell."""

    lo: float
    hi: float

    @property
    def width(self) -> float:
        return self.hi - self.lo


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _as_arrays(
    values: Sequence[float] | FloatArray, suppressed: Sequence[bool] | BoolArray
) -> tuple[FloatArray, BoolArray]:
    vals = np.asarray(values, dtype=float)
    supp = np.asarray(suppressed, dtype=bool)
    if vals.shape != supp.shape or vals.ndim != 1:
        raise ValueError("values and suppressed must be 1-d arrays of the same length")
    return vals, supp


def _lp_system(
    vals: FloatArray, supp: BoolArray, relations: Sequence[Relation]
) -> tuple[dict[int, int], FloatArray, FloatArray, FloatArray, FloatArray]:
    """Equality and inequality rows over the suppressed cells (variables), released cells moved right."""
    var_of = {int(c): i for i, c in enumerate(np.flatnonzero(supp))}
    n = len(var_of)
    eq_rows: list[FloatArray] = []
    eq_rhs: list[float] = []
    ub_rows: list[FloatArray] = []
    ub_rhs: list[float] = []
    for rel in relations:
        # total - sum(parts) (= or >=) 0  ->  coefficient +1 for the total, -1 for each part
        coeffs = [(rel.total, 1.0)] + [(p, -1.0) for p in rel.parts]
        if not any(supp[c] for c, _ in coeffs):
            continue
        row = np.zeros(n)
        constant = 0.0
        for cell, sign in coeffs:
            if supp[cell]:
                row[var_of[cell]] += sign
            else:
                constant += sign * vals[cell]
        if rel.exact:
            eq_rows.append(row)
            eq_rhs.append(-constant)
        else:
            # total - sum(parts) >= 0  <=>  -(row . x) <= constant
            ub_rows.append(-row)
            ub_rhs.append(constant)
    a_eq = np.array(eq_rows) if eq_rows else np.zeros((0, n))
    a_ub = np.array(ub_rows) if ub_rows else np.zeros((0, n))
    return var_of, a_eq, np.array(eq_rhs), a_ub, np.array(ub_rhs)


def feasible_intervals(
    values: Sequence[float] | FloatArray,
    suppressed: Sequence[bool] | BoolArray,
    relations: Sequence[Relation],
    cells: Sequence[int] | None = None,
) -> dict[int, Interval]:
    """The attacker's interval for each suppressed cell (or the listed ones): LP min and max.

    Suppressed cells that share no relation are independent, so each cell's LP is built over its
    connected component only (same answer, smaller LPs); a cell in no relation is [0, inf).
    """
    vals, supp = _as_arrays(values, suppressed)
    wanted = [int(c) for c in (cells if cells is not None else np.flatnonzero(supp))]
    return {cell: _interval(system, cell) for cell, system in _systems(vals, supp, relations, wanted)}


_System = tuple[dict[int, int], FloatArray, FloatArray, FloatArray, FloatArray] | None


def _systems(
    vals: FloatArray, supp: BoolArray, relations: Sequence[Relation], wanted: Sequence[int]
) -> list[tuple[int, _System]]:
    """For each wanted cell, the LP system of its component (None: the cell is in no relation)."""
    relations_of: dict[int, list[int]] = {}
    for r, rel in enumerate(relations):
        for c in rel.members():
            if supp[c]:
                relations_of.setdefault(c, []).append(r)
    systems: dict[frozenset[int], _System] = {}
    out: list[tuple[int, _System]] = []
    for cell in wanted:
        if not supp[cell]:
            raise ValueError(f"cell {cell} is not suppressed")
        if cell not in relations_of:
            out.append((cell, None))
            continue
        component, touched = _component_of(cell, relations, relations_of)
        key = frozenset(component)
        if key not in systems:
            mask = np.zeros(len(vals), dtype=bool)
            mask[list(component)] = True
            systems[key] = _lp_system(vals, mask, [relations[r] for r in sorted(touched)])
        out.append((cell, systems[key]))
    return out


def _interval(system: _System, cell: int) -> Interval:
    return Interval(_bound(system, cell, -1.0), _bound(system, cell, 1.0))


def _bound(system: _System, cell: int, sense: float) -> float:
    """The cell's minimum (sense -1) or maximum (sense +1) over the attacker's feasible set."""
    if system is None:
        return math.inf if sense > 0 else 0.0
    var_of, a_eq, b_eq, a_ub, b_ub = system
    n = len(var_of)
    objective = np.zeros(n)
    objective[var_of[cell]] = -sense  # linprog minimises
    res = linprog(
        objective,
        A_ub=a_ub if len(a_ub) else None,
        b_ub=b_ub if len(b_ub) else None,
        A_eq=a_eq if len(a_eq) else None,
        b_eq=b_eq if len(b_eq) else None,
        bounds=[(0.0, None)] * n,
        method="highs",
    )
    if res.status == 3:  # unbounded: only possible for the maximum
        return math.inf
    if res.status != 0:
        raise ValueError("the released cells and their relations are inconsistent")
    return -sense * float(res.fun)


def _component_of(
    cell: int, relations: Sequence[Relation], relations_of: dict[int, list[int]]
) -> tuple[set[int], set[int]]:
    """Suppressed cells linked to `cell` through relations, and the relations involved."""
    component = {cell}
    touched: set[int] = set()
    queue = [cell]
    while queue:
        current = queue.pop()
        for r in relations_of.get(current, []):
            if r in touched:
                continue
            touched.add(r)
            for other in relations[r].members():
                if other in relations_of and other not in component:
                    component.add(other)
                    queue.append(other)
    return component, touched


def is_protected(value: float, interval: Interval, protection: float) -> bool:
    """The interval covers [max(0, v - P), v + P] and is not a single point."""
    if interval.width <= _TOL:
        return False
    low_ok = interval.lo <= max(0.0, value - protection) + _TOL
    high_ok = interval.hi >= value + protection - _TOL
    return low_ok and high_ok


def _shortfall(value: float, interval: Interval, protection: float) -> float:
    short = max(0.0, value + protection - interval.hi) + max(0.0, interval.lo - max(0.0, value - protection))
    if interval.width <= _TOL:
        short += 1.0
    return short


def audit_suppression(
    values: Sequence[float] | FloatArray,
    suppressed: Sequence[bool] | BoolArray,
    relations: Sequence[Relation],
    targets: Sequence[int],
    protection: float | Sequence[float] | FloatArray,
) -> list[int]:
    """The targets (suppressed cells) that the released cells and relations do NOT protect."""
    vals, supp = _as_arrays(values, suppressed)
    prot = _protection_array(protection, len(vals))
    failing: list[int] = []
    for cell, system in _systems(vals, supp, relations, [int(t) for t in targets]):
        v, p = float(vals[cell]), float(prot[cell])
        hi = _bound(system, cell, 1.0)
        # The upper side fails most often: skip the second LP when it already decides.
        if hi < v + p - _TOL:
            failing.append(cell)
            continue
        if not is_protected(v, Interval(_bound(system, cell, -1.0), hi), p):
            failing.append(cell)
    return failing


def _protection_array(protection: float | Sequence[float] | FloatArray, n: int) -> FloatArray:
    if isinstance(protection, int | float):
        return np.full(n, float(protection))
    prot = np.asarray(protection, dtype=float)
    if prot.shape != (n,):
        raise ValueError("protection must be a number or one number per cell")
    return prot


def default_cost(values: FloatArray, relations: Sequence[Relation]) -> FloatArray:
    """Prefer suppressing small interior cells: cost = value + 1, totals cost 10x more."""
    cost = np.abs(values) + 1.0
    for rel in relations:
        cost[rel.total] = max(cost[rel.total], 10.0 * (abs(values[rel.total]) + 1.0))
    return cost


def secondary_suppression(
    values: Sequence[float] | FloatArray,
    primary: Sequence[bool] | BoolArray,
    relations: Sequence[Relation],
    protection: float | Sequence[float] | FloatArray,
    cost: Sequence[float] | FloatArray | None = None,
    never_suppress: Sequence[bool] | BoolArray | None = None,
    also_withheld: Sequence[bool] | BoolArray | None = None,
) -> BoolArray:
    """The suppression pattern: primary cells plus the secondary cells that protect them.

    `also_withheld`: cells unknown to the attacker from the start that are not themselves to be
    protected (e.g. cells an earlier release withheld as secondary suppression): withheld, never targets.

    Greedy with verification. While some primary cell is unprotected: if a suppressed cell
    connected to it is the only suppressed member of a relation (so that relation pins it), withhold
    the cheapest released member of that relation; otherwise try the cheapest released cells next
    to the suppressed ones and keep the one that most reduces the cell's shortfall (LP). Withholding
    a cell only widens every interval, so a protected cell stays protected and only the failing ones
    are re-audited. A final audit checks every primary cell; if it fails, every cell not in
    `never_suppress` is withheld (the caller's own audit then shows what stays exposed).
    """
    vals, supp = _as_arrays(values, primary)
    targets = [int(c) for c in np.flatnonzero(supp)]
    supp = supp.copy()
    if also_withheld is not None:
        supp |= np.asarray(also_withheld, dtype=bool)
    prot = _protection_array(protection, len(vals))
    costs = default_cost(vals, relations) if cost is None else np.asarray(cost, dtype=float)
    locked = np.zeros(len(vals), dtype=bool) if never_suppress is None else np.asarray(never_suppress, bool)
    members = [rel.members() for rel in relations]
    relations_of: dict[int, list[int]] = {}
    for r, group in enumerate(members):
        for c in group:
            relations_of.setdefault(c, []).append(r)

    failing = list(targets)
    for _ in range(len(vals) + 1):
        failing = _still_failing(vals, supp, relations, members, relations_of, failing, prot)
        if not failing:
            break
        choice = _choose_cell(failing[0], vals, supp, relations, members, relations_of, prot, costs, locked)
        if choice is None:
            break
        supp[choice] = True
    if audit_suppression(vals, supp, relations, targets, prot):
        # Nothing cheaper worked: withhold everything that may be withheld. A cell still exposed
        # then is pinned by the relations and the cells that must stay released (e.g. totals
        # published elsewhere); callers audit the result to find and report such cells.
        return np.asarray(supp | ~locked, dtype=bool)
    return supp


def _pinning_relations(
    supp: BoolArray,
    members: Sequence[tuple[int, ...]],
    relations_of: dict[int, list[int]],
    cell: int,
    exact: Sequence[bool],
) -> list[int]:
    """Relations of `cell` in which it is the only suppressed member (they fix its value)."""
    return [r for r in relations_of.get(cell, []) if exact[r] and sum(bool(supp[c]) for c in members[r]) == 1]


def _still_failing(
    vals: FloatArray,
    supp: BoolArray,
    relations: Sequence[Relation],
    members: Sequence[tuple[int, ...]],
    relations_of: dict[int, list[int]],
    cells: Sequence[int],
    prot: FloatArray,
) -> list[int]:
    """Audit `cells`, skipping the LP for cells a single relation already pins."""
    exact = [r.exact for r in relations]
    pinned = [c for c in cells if _pinning_relations(supp, members, relations_of, c, exact)]
    rest = [c for c in cells if c not in set(pinned)]
    return pinned + audit_suppression(vals, supp, relations, rest, prot)


def _component(
    cell: int, supp: BoolArray, members: Sequence[tuple[int, ...]], relations_of: dict[int, list[int]]
) -> list[int]:
    """Suppressed cells reachable from `cell` through relations (breadth first, nearest first)."""
    seen = [cell]
    queue = [cell]
    while queue:
        current = queue.pop(0)
        for r in relations_of.get(current, []):
            for other in members[r]:
                if supp[other] and other not in seen:
                    seen.append(other)
                    queue.append(other)
    return seen


def _choose_cell(
    cell: int,
    vals: FloatArray,
    supp: BoolArray,
    relations: Sequence[Relation],
    members: Sequence[tuple[int, ...]],
    relations_of: dict[int, list[int]],
    prot: FloatArray,
    costs: FloatArray,
    locked: BoolArray,
) -> int | None:
    """One more cell to withhold for the unprotected `cell`."""
    component = _component(cell, supp, members, relations_of)
    # A relation with a single suppressed member pins that member, and through it `cell`. Prefer
    # the cell that unpins the most such relations at once (it closes a cycle), then the cheapest.
    exact = [r.exact for r in relations]
    pinning = {r for s in component for r in _pinning_relations(supp, members, relations_of, s, exact)}
    options = {c for r in pinning for c in members[r] if not supp[c] and not locked[c]}
    if options:
        return min(options, key=lambda c: (-sum(r in pinning for r in relations_of[c]), costs[c], c))
    candidates = sorted(
        {c for s in component for r in relations_of.get(s, []) for c in members[r] if not supp[c] and not locked[c]},
        key=lambda c: (costs[c], c),
    )
    if not candidates:
        candidates = sorted(
            {c for group in members if any(supp[m] for m in group) for c in group if not supp[c] and not locked[c]},
            key=lambda c: (costs[c], c),
        )
    if not candidates:
        return None
    current = _shortfall(vals[cell], feasible_intervals(vals, supp, relations, [cell])[cell], prot[cell])
    best: tuple[float, float, int] | None = None
    for cand in candidates[:_MAX_CANDIDATES]:
        trial = supp.copy()
        trial[cand] = True
        interval = feasible_intervals(vals, trial, relations, [cell])[cell]
        short = _shortfall(vals[cell], interval, prot[cell])
        key = (short, costs[cand], cand)
        if best is None or key < best:
            best = key
        if short <= _TOL:
            break  # candidates are in cost order: the first that fully protects is the cheapest
    if best is not None and best[0] < current - _TOL:
        return best[2]
    # No single cheap cell helps: withhold the cheapest candidate to open a longer cycle.
    return candidates[0]
