"""The CONSORT pieces that need no vault: the participant-flow bars from a checked flow table (withheld
cells pooled, never guessed), the absolute effect from an odds ratio, and the PDF renderer's refusal note."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cscvault.disclosure.check import apply_profile
from cscvault.report import plots
from cscvault.report.consort import CHECKLIST, absolute_effect, flow_bars
from cscvault.report.pdf import html_to_pdf
from cscvault.report.relations import FLOW_RELATIONS

FLOW = pd.DataFrame(
    {
        "la": ["A", "B"],
        "referred_in_window": [400, 300],
        "excluded_age": [100, 3],  # B's is under the threshold: withheld
        "excluded_care_before_referral": [50, 47],
        "in_sample": [250, 250],
        "censored": [50, 50],
        "analysed": [200, 200],
        "events": [40, 30],
        "first_referral_ties": [20, 20],
        "age_missing": [20, 20],
    }
)


def test_withheld_exclusions_become_one_pooled_band_of_what_the_released_counts_imply() -> None:
    checked = apply_profile(FLOW, "acro-default", [c for c in FLOW.columns if c != "la"], label_cols=["la"],
                            relations=FLOW_RELATIONS)  # fmt: skip
    bars, unplotted = flow_bars(checked)
    assert not unplotted
    a, b = bars
    assert [name for name, _ in a.segments] == [
        "excluded: age", "excluded: in care before referral", "censored", "analysed"
    ]  # fmt: skip
    names = [name for name, _ in b.segments]
    assert plots.POOLED in names and "excluded: age" not in names
    assert sum(v for _, v in b.segments) == b.referred  # the bar still adds up to the released total
    assert all(v >= 0 for _, v in b.segments)
    assert plots.participant_flow(bars).startswith(b"\x89PNG")


def test_absolute_effect_applies_the_odds_ratio_to_the_control_risk() -> None:
    out = absolute_effect(0.2, 2.0, 1.0, 4.0)
    # odds 0.25 -> 0.5 -> risk 1/3; CI ends 20% and 50%
    assert out["risk1"] == "33.3" and out["ci"] == "20.0 to 50.0" and out["diff"] == "+13.3"
    assert absolute_effect(None, 2.0, 1.0, 4.0)["ci"] == "not estimable"


def test_checklist_sections_are_unique_per_topic_and_name_sections() -> None:
    assert len({(c.item, c.topic) for c in CHECKLIST}) == len(CHECKLIST)
    assert all(c.section and " " not in c.section for c in CHECKLIST)


def test_no_chromium_means_no_pdf_and_a_note_saying_why(tmp_path: Path) -> None:
    result = html_to_pdf(b"<p>x</p>", chromium=tmp_path / "no-such-browser")
    assert result.content is None and "not installed" in result.note


def test_a_withheld_analysed_count_is_drawn_from_the_released_period_counts() -> None:
    small = FLOW.copy()
    small.loc[1, ["censored", "analysed", "in_sample", "excluded_care_before_referral"]] = [3, 244, 247, 50]
    checked = apply_profile(small, "acro-default", [c for c in small.columns if c != "la"], label_cols=["la"],
                            relations=FLOW_RELATIONS)  # fmt: skip
    bars, _ = flow_bars(checked, {"B": 200.0})
    b = dict(bars[1].segments)
    assert checked.released.loc[1, "analysed"] is None or pd.isna(checked.released.loc[1, "analysed"])
    assert b[plots.ANALYSED_BY_PERIOD] == 200.0 and "analysed" not in b
    assert sum(v for _, v in bars[1].segments) == bars[1].referred
