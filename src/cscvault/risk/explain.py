"""The risk report in plain words: the rows and tables a DPO reads, shared by the DPIA annex and the console.

Everything here formats a `RiskReport`, which is already aggregates only, passed through the disclosure profile;
nothing reads the vault. A count the profile withheld is shown as withheld, never recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cscvault.risk.summary import RiskLine, RiskReport

WITHHELD = "withheld"


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    value: str
    meaning: str


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _n(value: Any) -> str:
    return WITHHELD if value is None else f"{int(value):,}"


def _share(part: int | None, whole: int | None) -> str:
    return "" if part is None or not whole else f" ({100 * part / whole:.1f}%)"


def _f(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def risk_measure_rows(line: RiskLine) -> list[Measure]:
    """Each measure of one version of the data, with what it means for a DPO."""
    rows = [
        Measure("children", "Children held", _n(line.children), "children in the analysis (restricted, objecting "
                "and erased children are already left out)"),
        Measure("combinations", "Key combinations", _n(line.combinations), "distinct combinations of the key "
                "variables' values"),
        Measure("sample_uniques", "Sample uniques", _n(line.sample_uniques) + _share(line.sample_uniques,
                line.children), "children whose combination of key values nobody else in the data shares"),
        Measure("below_k3", "In groups smaller than 3", _n(line.below_k3), "children sharing their combination "
                "with at most one other child (k-anonymity fails at k = 3)"),
        Measure("below_k5", "In groups smaller than 5", _n(line.below_k5), "children sharing their combination "
                "with at most three others (k-anonymity fails at k = 5)"),
        Measure("expected_reidentifications", "Expected re-identifications", f"{line.expected_reidentifications:.2f}",
                "how many children someone matching every record against the whole population of children in "
                "need would be expected to identify correctly"),
        Measure("global_risk_pct", "Global risk", f"{line.global_risk_pct:.3f}%", "expected re-identifications "
                "as a share of the children held"),
        Measure("max_individual_risk", "Highest individual risk", f"{line.max_individual_risk:.4f}", "the "
                "largest probability, for any one record, that a match to the population is correct"),
        Measure("high_risk_records", "Records at high risk", _n(line.high_risk_records), "records whose "
                "individual risk is 0.5 or more"),
    ]  # fmt: skip
    if line.special_uniques is not None:
        rows += [
            Measure("special_uniques", "SUDA special uniques", _n(line.special_uniques), "children already "
                    "unique on part of their key values (SUDA score > 0): the riskiest kind of unique"),
            Measure("single_key_uniques", "Unique on one key alone", _n(line.single_key_uniques), "children "
                    "whose value of a single key variable nobody else has"),
            Measure("max_suda_score", "Highest SUDA score", _f(line.max_suda_score, 0), "larger scores mean "
                    "a child is unique on fewer of the keys"),
        ]  # fmt: skip
    for label, n in line.homogeneous.items():
        words = label.replace("_", " ")
        rows.append(
            Measure(f"homogeneous_{label}", f"Homogeneous groups: {words}", _n(n), f"children in a group of two or "
                    f"more who all share the same {words} status, so it is disclosed without identifying anyone "
                    "(l-diversity, l = 1)")
        )  # fmt: skip
    return rows


def risk_la_table(report: RiskReport) -> Table:
    """The released per-LA counts (the overall row is the measures table)."""
    homogeneous = [f"homogeneous_{s}" for s in report.current.homogeneous]
    columns = [
        ("children", "Children"),
        ("sample_uniques", "Sample uniques"),
        ("below_k3", "Smaller than 3"),
        ("below_k5", "Smaller than 5"),
        ("high_risk", "High risk"),
        ("special_uniques", "Special uniques"),
        ("expected_reidentifications", "Expected re-identifications"),
        *((h, "Homogeneous: " + h.removeprefix("homogeneous_").replace("_", " ")) for h in homogeneous),
    ]
    if report.current.special_uniques is None:
        columns = [c for c in columns if c[0] != "special_uniques"]
    rows = []
    for row in report.per_la:
        cells = [str(row["la"])]
        for key, _ in columns:
            v = row.get(key)
            cells.append(_f(v, 2) if key == "expected_reidentifications" and v is not None else _n(v))
        rows.append(tuple(cells))
    return Table("Per local authority", ("Local authority", *(h for _, h in columns)), tuple(rows))


def risk_what_if_table(report: RiskReport) -> Table | None:
    """Each candidate generalisation beside the data as held: risk and the trial's primary estimate."""
    if not report.what_if:
        return None
    c = report.current
    rows = [("the data as held", _n(c.sample_uniques), _n(c.below_k5), _n(c.special_uniques),
             f"{c.expected_reidentifications:.2f}", _f(report.primary_estimate, 3), "", "")]  # fmt: skip
    for w in report.what_if:
        r = w.risk
        rows.append((w.label, _n(r.sample_uniques), _n(r.below_k5), _n(r.special_uniques),
                     f"{r.expected_reidentifications:.2f}", _f(w.estimate, 3), _f(w.estimate_change, 3),
                     _f(w.se_change_pct, 1)))  # fmt: skip
    headers = ("Version of the data", "Sample uniques", "Smaller than 5", "Special uniques",
               "Expected re-identifications", "Treatment estimate", "Estimate change", "SE change %")  # fmt: skip
    return Table("What if the data were generalised", headers, tuple(rows))


def risk_in_plain_words(report: RiskReport) -> list[str]:
    """A few sentences a DPO can put in front of a reader who does not know the measures."""
    c = report.current
    out = [
        f"Of {_n(c.children)} children held, {_n(c.sample_uniques)} have a combination of "
        f"{len(report.keys)} key variables ({', '.join(k.split('.')[-1] for k in report.keys)}) that no other "
        "child in the data has. Being unique in the data is not the same as being identifiable: an intruder "
        "would also need to know the child's values and find them unique among all children in need in that "
        "local authority and year.",
        f"Taking that population into account (published DfE counts of children in need), the expected number "
        f"of children someone could correctly re-identify by matching every record is "
        f"{c.expected_reidentifications:.2f}, a global risk of {c.global_risk_pct:.3f}%; the riskiest single "
        f"record has a {c.max_individual_risk:.4f} chance of a correct match.",
        f"Counts go through the disclosure profile {report.profile['profile']} (version "
        f"{report.profile['profile_version']}): small counts are withheld and the rest rounded, so no count here "
        "points to a child.",
    ]
    if report.what_if:
        out.append(
            "The what-if table shows the same measures after coarsening some key variables, and how much the "
            "trial's primary estimate and its standard error move: a recoding that lowers the risk without "
            "moving the estimate costs the analysis nothing."
        )
    if report.primary_note:
        out.append(f"The primary analysis could not be re-fitted for the comparison: {report.primary_note}.")
    return out


__all__ = ["Measure", "Table", "risk_in_plain_words", "risk_la_table", "risk_measure_rows", "risk_what_if_table"]
