"""The participant flow per LA and period: its table is checked together with the LA flow (so a withheld
period cell cannot be recovered from the LA total and the other periods), and every number its figure draws
is a released cell (of that table or of the outcome-rates table), a remainder of released cells drawn as a
pooled band, or the sample minus the released analysed count (labelled as such)."""

from __future__ import annotations

import math

import pandas as pd

from cscvault.analysis.samples import FLOW_COLUMNS
from cscvault.report import plots
from cscvault.report.consort import flow_period_panels
from cscvault.report.relations import FLOW_PERIOD_COUNTS
from cscvault.report.render import check_flow_tables


def _row(la: str, period: str, referred: int, age: int, care: int, censored: int, events: int) -> dict[str, object]:
    in_sample = referred - age - care
    return {"la": la, "period": period, "referred_in_window": referred, "excluded_age": age,
            "excluded_care_before_referral": care, "in_sample": in_sample, "censored": censored,
            "analysed": in_sample - censored, "events": events, "first_referral_ties": 0, "age_missing": 0}  # fmt: skip


BY_PERIOD = pd.DataFrame(
    [
        _row("A", "P1", 200, 40, 20, 20, 30),
        _row("A", "P2", 210, 50, 20, 20, 25),
        _row("A", "P3", 190, 30, 20, 60, 20),
        _row("B", "P1", 150, 30, 20, 25, 20),
        _row("B", "P2", 160, 2, 18, 20, 22),  # B/P2: excluded for age under the threshold
        _row("B", "P3", 6, 0, 0, 0, 1),  # B/P3: its referred count is withheld
    ]
)


def _checked() -> tuple[pd.DataFrame, object, object]:
    flow = BY_PERIOD.drop(columns="period").groupby("la", as_index=False).sum()[FLOW_COLUMNS]
    rates = BY_PERIOD[["la", "period", "analysed", "events"]].rename(columns={"analysed": "children"})
    checked = check_flow_tables(flow, BY_PERIOD, "acro-default", rates)  # as the report checks them
    return checked["flow.csv"], checked["flow_period.csv"], checked["rates.csv"]


def _num(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(str(v))


def test_a_period_cell_withheld_cannot_be_recovered_from_the_released_la_total() -> None:
    la, period, _ = _checked()
    released = period.released  # type: ignore[attr-defined]
    assert list(released.columns) == ["la", "period", *FLOW_PERIOD_COUNTS]
    for name in ("A", "B"):
        mine = released[released["la"] == name]
        for col in FLOW_PERIOD_COUNTS:
            withheld = [v for v in mine[col] if _num(v) is None]
            if len(withheld) == 1:  # one withheld period cell = the LA total minus the other periods
                assert _num(la.released.set_index("la").loc[name, col]) is None, (name, col)  # type: ignore[attr-defined]
    assert _num(released.set_index(["la", "period"]).loc[("B", "P3"), "referred_in_window"]) is None


def test_every_number_the_period_figure_draws_is_a_released_cell() -> None:
    _, period, rates = _checked()
    released = period.released.set_index(["la", "period"])  # type: ignore[attr-defined]
    children = rates.released.set_index(["la", "period"])["children"]  # type: ignore[attr-defined]
    panels = flow_period_panels(period, rates)  # type: ignore[arg-type]
    assert [p.period for p in panels] == ["P1", "P2", "P3"]
    names = {"excluded: age": "excluded_age", "excluded: in care before referral": "excluded_care_before_referral",
             plots.IN_SAMPLE: "in_sample"}  # fmt: skip
    drawn = 0
    for panel in panels:
        for bar in panel.bars:
            row = released.loc[(bar.la, panel.period)]
            assert bar.referred == _num(row["referred_in_window"])
            segments = dict(bar.segments)
            for name, value in bar.segments:
                if name == plots.POOLED:
                    continue  # a remainder of released cells, never a withheld value
                if name == "analysed":
                    assert value == _num(children.loc[(bar.la, panel.period)])
                elif name == plots.CENSORED_DERIVED:
                    assert value == _num(row["in_sample"]) - segments["analysed"]  # type: ignore[operator]
                else:
                    assert value == _num(row[names[name]]), (bar.la, panel.period, name)
                drawn += 1
        for la in panel.withheld:
            assert _num(released.loc[(la, panel.period), "referred_in_window"]) is None
    assert drawn > 0
    p3 = panels[2]
    assert "B" in p3.withheld and all(b.la != "B" for b in p3.bars)  # withheld: named, not drawn
    b2 = dict(next(b for b in panels[1].bars if b.la == "B").segments)
    assert plots.POOLED in b2 and "excluded: age" not in b2  # the reasons pooled where one is withheld
    png = plots.participant_flow_by_period(["A", "B"], [(p.period, p.bars, p.withheld) for p in panels])
    assert png.startswith(b"\x89PNG")


def test_a_period_with_every_count_withheld_still_draws_a_panel() -> None:
    png = plots.participant_flow_by_period(["A"], [("P1", [], ["A"])])
    assert png.startswith(b"\x89PNG")
