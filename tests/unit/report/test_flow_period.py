"""The participant flow per LA and period: its table is checked together with the LA flow and the outcome
rates (so a withheld period cell cannot be recovered from the LA total), and every number its figure draws
is a released cell of that check (or a remainder of released cells, drawn as a pooled band)."""

from __future__ import annotations

import math

import pandas as pd

from cscvault.analysis.samples import FLOW_COLUMNS
from cscvault.report import plots
from cscvault.report.consort import flow_period_panels
from cscvault.report.render import check_flow_tables

COUNTS = FLOW_COLUMNS[1:]


def _row(la: str, period: str, referred: int, age: int, care: int, censored: int, analysed: int,
         events: int) -> dict[str, object]:  # fmt: skip
    in_sample = referred - age - care
    assert in_sample == censored + analysed
    return {"la": la, "period": period, "referred_in_window": referred, "excluded_age": age,
            "excluded_care_before_referral": care, "in_sample": in_sample, "censored": censored,
            "analysed": analysed, "events": events, "first_referral_ties": 0, "age_missing": 0}  # fmt: skip


BY_PERIOD = pd.DataFrame(
    [
        _row("A", "P1", 200, 40, 20, 0, 140, 30),
        _row("A", "P2", 210, 50, 20, 20, 120, 25),
        _row("A", "P3", 190, 30, 20, 60, 80, 20),
        _row("B", "P1", 150, 30, 20, 0, 100, 20),
        _row("B", "P2", 160, 2, 18, 20, 120, 22),  # B/P2 excluded_age under the threshold
        _row("B", "P3", 6, 0, 0, 0, 6, 1),  # B/P3 tiny: its referred count is withheld
    ]
)


def _tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    flow = BY_PERIOD.drop(columns="period").groupby("la", as_index=False).sum()[FLOW_COLUMNS]
    rates = BY_PERIOD[["la", "period", "analysed", "events"]].rename(columns={"analysed": "children"})
    return flow, BY_PERIOD.copy(), rates[["la", "period", "children", "events"]]


def _num(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(str(v))


def test_a_period_cell_withheld_cannot_be_recovered_from_the_released_la_total() -> None:
    checked = check_flow_tables(*_tables(), "acro-default")
    period = checked.flow_period.released
    b = period[period["la"] == "B"]
    for col in COUNTS:
        withheld = [v for v in b[col] if _num(v) is None]
        # a lone withheld period cell would be the released LA total minus the other periods
        if len(withheld) == 1:
            assert _num(checked.flow.released.set_index("la").loc["B", col]) is None, col
    # the rates' children are the period rows' analysed: one cell, one verdict
    rates = checked.rates.released.set_index(["la", "period"])
    for _, r in period.iterrows():
        assert (_num(r["analysed"]) is None) == (_num(rates.loc[(r["la"], r["period"]), "children"]) is None)


def test_every_number_the_period_figure_draws_is_a_released_cell() -> None:
    checked = check_flow_tables(*_tables(), "acro-default")
    released = checked.flow_period.released.set_index(["la", "period"])
    panels = flow_period_panels(checked.flow_period)
    assert [p.period for p in panels] == ["P1", "P2", "P3"]
    names = {"excluded: age": "excluded_age", "excluded: in care before referral": "excluded_care_before_referral",
             "censored": "censored", "analysed": "analysed"}  # fmt: skip
    drawn = 0
    for panel in panels:
        for bar in panel.bars:
            row = released.loc[(bar.la, panel.period)]
            assert bar.referred == _num(row["referred_in_window"])
            for name, value in bar.segments:
                if name == plots.POOLED:
                    continue  # a remainder of released cells, never a withheld value
                assert value == _num(row[names[name]]), (bar.la, panel.period, name)
                drawn += 1
            assert math.isclose(sum(v for _, v in bar.segments), bar.referred)
        for la in panel.withheld:
            assert _num(released.loc[(la, panel.period), "referred_in_window"]) is None
    assert drawn > 0
    p3 = panels[2]
    assert "B" in p3.withheld and all(b.la != "B" for b in p3.bars)  # withheld: named, not drawn
    p2_b = next(b for b in panels[1].bars if b.la == "B")
    assert plots.POOLED in dict(p2_b.segments)  # reasons pooled where one is withheld
    png = plots.participant_flow_by_period(["A", "B"], [(p.period, p.bars, p.withheld) for p in panels])
    assert png.startswith(b"\x89PNG")


def test_a_period_with_every_count_withheld_still_draws_a_panel() -> None:
    png = plots.participant_flow_by_period(["A"], [("P1", [], ["A"])])
    assert png.startswith(b"\x89PNG")
