"""Secondary outcomes: each derivation's sample, window and censoring rule on hand-made children, and each
model family recovering a known effect from simulated data."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from cscvault.analysis import secondary_outcomes as sec
from cscvault.errors import UsageError

T = pd.Timestamp
DATA_END = T("2025-12-31")


def _base(rows: list[tuple[str, str, int]], data_end: pd.Timestamp = DATA_END) -> pd.DataFrame:
    """(child, referral date, age years) in one LA, treated, wedge_3."""
    return pd.DataFrame(
        {
            "child_key": [r[0] for r in rows],
            "la_code": "E1",
            "la": "LA",
            "period": "wedge_3",
            "treatment": 1,
            "referral_date": [T(r[1]) for r in rows],
            "age_group": [str(r[2]) for r in rows],
            "data_end": data_end,
        }
    )


def _empty(*cols: str) -> pd.DataFrame:
    return pd.DataFrame({"child_key": pd.Series(dtype=str), **{c: pd.Series(dtype="datetime64[ns]") for c in cols}})


def _inputs(**tables: pd.DataFrame) -> sec.SecondaryInputs:
    defaults = {
        "referrals": _empty("referral_date"),
        "assessments": _empty("referral_date").assign(factors=pd.Series(dtype=str)),
        "cp_plans": _empty("start_date", "end_date"),
        "cin_plans": _empty("start_date"),
        "cla": _empty("start_date"),
        "pre_proceedings": _empty("start_date"),
        "care_proceedings": _empty("issue_date"),
        "attendance": pd.DataFrame(
            {"child_key": [], "term": [], "sessions_possible": [], "sessions_unauthorised_absence": []}
        ),
    }
    defaults.update(tables)
    return sec.SecondaryInputs(data_end={"E1": DATA_END.date()}, **defaults)


def _dated(rows: list[tuple[object, ...]], *cols: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["child_key", *cols])
    for c in cols:
        if c != "factors":
            frame[c] = pd.to_datetime(frame[c])
    return frame


# -- 1. return to services after a CPP ------------------------------------------------------------


def test_return_after_cpp_sample_event_and_censoring() -> None:
    base = _base([("a", "2021-01-10", 3), ("b", "2021-01-10", 3), ("c", "2023-06-01", 3), ("d", "2021-01-10", 3)])
    plans = _dated(
        [
            ("a", "2021-02-01", "2021-08-01"),  # ended; CIN plan follows inside 36 months -> returned
            ("b", "2021-02-01", "2021-08-01"),  # ended; nothing after -> 0 (window inside the data)
            ("c", "2023-07-01", "2024-01-01"),  # ended; nothing seen, but 36 months run past data end
            ("d", "2020-06-01", "2020-12-01"),  # began before the referral: not in the sample
        ],
        "start_date",
        "end_date",
    )
    cin = _dated([("a", "2022-03-01"), ("b", "2021-07-01")], "start_date")  # b's CIN plan is before the CPP end
    s = sec.derive_returned_after_cpp(base, _inputs(cp_plans=plans, cin_plans=cin)).set_index("child_key")
    assert set(s.index) == {"a", "b", "c"}
    assert bool(s.loc["a", "y"]) and not s.loc["a", "censored"]
    assert not s.loc["b", "y"] and not s.loc["b", "censored"]
    assert not s.loc["c", "y"] and s.loc["c", "censored"]


# -- 2. days on a single CPP ----------------------------------------------------------------------


def test_cpp_duration_times_and_censoring_at_24_months_and_data_end() -> None:
    base = _base([("a", "2021-01-10", 3), ("b", "2021-01-10", 3), ("c", "2025-06-01", 3), ("d", "2021-01-10", 3)])
    base.loc[base["child_key"] == "c", "data_end"] = T("2025-09-30")
    plans = _dated(
        [
            ("a", "2021-02-01", "2021-05-12"),  # ended after 100 days
            ("b", "2021-02-01", "2024-01-01"),  # longer than 24 months: censored at 2023-02-01
            ("c", "2025-07-01", None),  # still open at the data end
            ("d", "2022-03-01", "2022-06-01"),  # started more than 12 months after the referral
        ],
        "start_date",
        "end_date",
    )
    s = sec.derive_cpp_duration(base, _inputs(cp_plans=plans)).set_index("child_key")
    assert set(s.index) == {"a", "b", "c"}
    assert (s.loc["a", "time"], s.loc["a", "event"]) == (100.0, 1)
    assert (s.loc["b", "time"], s.loc["b", "event"]) == (float((T("2023-02-01") - T("2021-02-01")).days), 0)
    assert (s.loc["c", "time"], s.loc["c", "event"]) == (float((T("2025-09-30") - T("2025-07-01")).days), 0)


# -- 3. total days on CPPs ------------------------------------------------------------------------


def test_total_cpp_days_clip_to_the_window_and_censored_is_missing_not_zero() -> None:
    base = _base([("a", "2021-01-10", 3), ("b", "2021-01-10", 3), ("c", "2023-06-01", 3)])
    plans = _dated(
        [
            ("a", "2020-12-01", "2021-01-19"),  # began before the referral: 10 days inside the window
            ("a", "2023-12-01", "2024-06-01"),  # runs past the 36 months (2024-01-10): 41 days inside
        ],
        "start_date",
        "end_date",
    )
    s = sec.derive_cpp_total_days(base, _inputs(cp_plans=plans)).set_index("child_key")
    assert s.loc["a", "value"] == 10 + 41
    assert s.loc["b", "value"] == 0 and not s.loc["b", "censored"]
    assert s.loc["c", "censored"] and math.isnan(s.loc["c", "value"])


# -- 4. proceedings within 16 weeks of pre-proceedings --------------------------------------------


def test_proceedings_within_16_weeks() -> None:
    base = _base([("a", "2021-01-10", 3), ("b", "2021-01-10", 3), ("c", "2021-01-10", 3), ("d", "2021-01-10", 3)])
    base.loc[base["child_key"] == "c", "data_end"] = T("2021-04-01")
    pre = _dated([("a", "2021-03-01"), ("b", "2021-03-01"), ("c", "2021-03-01"), ("d", "2022-08-01")], "start_date")
    issued = _dated([("a", "2021-06-21"), ("b", "2021-06-29")], "issue_date")  # day 112 vs day 120
    s = sec.derive_proceedings_after_pre(base, _inputs(pre_proceedings=pre, care_proceedings=issued))
    s = s.set_index("child_key")
    assert set(s.index) == {"a", "b", "c"}  # d's pre-proceedings began more than 18 months after referral
    assert bool(s.loc["a", "y"]) and not s.loc["b", "y"] and not s.loc["b", "censored"]
    assert s.loc["c", "censored"]


# -- 5. re-referral after parental factors --------------------------------------------------------


def test_rereferral_needs_parental_factors_at_that_referral() -> None:
    base = _base([("a", "2021-01-10", 3), ("b", "2021-01-10", 3), ("c", "2021-01-10", 3)])
    assessments = _dated(
        [("a", "2021-01-10", "1B,21"), ("b", "2021-01-10", "3C"), ("c", "2021-01-10", "21,18A")],
        "referral_date",
        "factors",
    )
    referrals = _dated(
        [("a", "2021-01-10"), ("a", "2022-06-01"), ("b", "2021-01-10"), ("b", "2022-08-01"), ("c", "2021-03-01")],
        "referral_date",
    )
    assert sec.parental_risk_children(base, assessments) == {"a", "b"}
    s = sec.derive_rereferral(base, _inputs(assessments=assessments, referrals=referrals)).set_index("child_key")
    assert bool(s.loc["a", "y"])  # 17 months later
    assert not s.loc["b", "y"]  # 18 months and 3 weeks later: outside
    assert "c" not in s.index


# -- 6. unauthorised absence ----------------------------------------------------------------------


def test_term_dates_parse_the_return_labels() -> None:
    assert sec.term_dates("2021-autumn") == (T("2021-09-01"), T("2021-12-20"))
    assert sec.term_dates("2022-spring") == (T("2022-01-05"), T("2022-03-31"))  # schools never open on 1 January
    assert sec.term_dates("2022-summer") == (T("2022-04-15"), T("2022-07-22"))
    assert sec.term_dates("Autumn 2021") is None


def test_a_referral_in_the_new_year_holiday_is_followed_by_that_spring_term() -> None:
    base = _base([("a", "2022-01-03", 8)])
    att = pd.DataFrame(
        [("a", t, 100, 5) for t in ("2022-spring", "2022-summer", "2022-autumn", "2023-spring")],
        columns=["child_key", "term", "sessions_possible", "sessions_unauthorised_absence"],
    )
    s = sec.derive_absence(base, _inputs(attendance=att)).set_index("child_key")
    assert s.loc["a", "terms"] == ("2022-spring", "2022-summer", "2022-autumn")


def test_absence_sums_the_three_terms_after_referral() -> None:
    base = _base([("a", "2021-02-10", 8), ("b", "2021-02-10", 3), ("c", "2025-05-01", 8)])
    att = pd.DataFrame(
        [
            ("a", "2021-spring", 100, 50),  # the referral term itself: not counted
            ("a", "2021-summer", 120, 6),
            ("a", "2021-autumn", 140, 4),
            ("a", "2022-spring", 110, 1),
            ("a", "2022-summer", 120, 30),  # the fourth term: not counted
            ("c", "2025-summer", 120, 6),
        ],
        columns=["child_key", "term", "sessions_possible", "sessions_unauthorised_absence"],
    )
    s = sec.derive_absence(base, _inputs(attendance=att)).set_index("child_key")
    assert "b" not in s.index  # under school age
    assert (s.loc["a", "exposure"], s.loc["a", "count"]) == (370, 11)
    assert s.loc["c", "censored"]  # its third term is not among the delivered terms


# -- models recover known effects -----------------------------------------------------------------


def _design(n: int, rng: np.random.Generator) -> pd.DataFrame:
    las = [f"LA{i}" for i in range(5)]
    periods = ["baseline", "wedge_1", "wedge_2", "wedge_3", "wedge_4", "wedge_5"]
    la = rng.integers(0, 5, n)
    per = rng.integers(0, 6, n)
    return pd.DataFrame(
        {
            "la": [las[i] for i in la],
            "period": [periods[i] for i in per],
            "treatment": (per > la).astype(int),
            "la_effect": np.array([-0.3, 0.0, 0.2, 0.4, -0.1])[la],
            "period_effect": 0.05 * per,
        }
    )


def test_cox_recovers_a_known_hazard_ratio() -> None:
    rng = np.random.default_rng(2)
    f = _design(4000, rng)
    log_hr = math.log(1.4)
    rate = np.exp(-5.5 + f["la_effect"] + f["period_effect"] + log_hr * f["treatment"])
    t = rng.exponential(1 / rate)
    cap = 730.0
    f["time"] = np.minimum(t, cap)
    f["event"] = (t <= cap).astype(int)
    r = sec.fit_cox(sec.CPP_DAYS, f)
    # 4 SEs: a true effect outside that is a bias, not chance (p < 1e-4)
    assert r.estimate is not None and r.se is not None
    assert abs(r.estimate - log_hr) < 4 * r.se and r.se < 0.06
    assert r.ci_low is not None and r.ci_low < 1.4 < (r.ci_high or 0)


def test_poisson_recovers_a_known_rate_ratio() -> None:
    rng = np.random.default_rng(3)
    f = _design(3000, rng)
    f["exposure"] = rng.integers(300, 380, len(f))
    child = rng.gamma(2.0, 0.5, len(f))  # overdispersion between children
    mu = f["exposure"] * 0.03 * child * np.exp(f["la_effect"] + math.log(0.9) * f["treatment"])
    f["count"] = rng.poisson(mu)
    r = sec.fit_poisson(sec.ABSENCE, f, censored=0)
    assert r.estimate is not None and r.se is not None
    assert abs(r.estimate - math.log(0.9)) < 4 * r.se and r.se < 0.06


def test_linear_recovers_a_known_difference_in_days() -> None:
    rng = np.random.default_rng(4)
    f = _design(3000, rng)
    f["value"] = np.maximum(0, 100 + 50 * f["la_effect"] - 30 * f["treatment"] + rng.normal(0, 60, len(f)))
    r = sec.fit_linear(sec.CPP_TOTAL, f, censored=0)
    assert r.estimate is not None and r.se is not None
    assert abs(r.estimate + 30) < 4 * r.se + 2  # the floor at 0 days shrinks the effect by ~1 day
    assert r.row()["odds_ratio"] is None  # a difference has no ratio


def test_binary_recovers_a_known_odds_ratio_and_reports_too_few_events() -> None:
    rng = np.random.default_rng(5)
    f = _design(4000, rng)
    eta = -1.0 + f["la_effect"] + f["period_effect"] + math.log(0.7) * f["treatment"]
    f["y"] = rng.random(len(f)) < 1 / (1 + np.exp(-eta))
    r = sec.fit_binary(sec.REREFERRAL, f, censored=7)
    assert r.estimate is not None and r.se is not None
    assert abs(r.estimate - math.log(0.7)) < 4 * r.se
    assert r.n_censored == 7 and r.row()["analysis"] == "secondary"
    few = sec.fit_binary(sec.PROCEEDINGS, f.assign(y=False).iloc[:50], censored=0)
    assert few.estimate is None and few.note.startswith("not estimable")


def test_run_secondary_rejects_unknown_outcome_numbers() -> None:
    with pytest.raises(UsageError):
        sec.run_secondary(None, None, (7,))  # type: ignore[arg-type]


def test_censored_dates_are_never_outcomes() -> None:
    """A child whose 18 months run past the data end and with no re-referral seen is censored, not 0."""
    base = _base([("a", "2021-01-10", 3)], data_end=T("2021-12-31"))
    assessments = _dated([("a", "2021-01-10", "4B")], "referral_date", "factors")
    s = sec.derive_rereferral(base, _inputs(assessments=assessments))
    assert bool(s["censored"].iloc[0]) and not bool(s["y"].iloc[0])
    assert dt.date(2021, 12, 31) < sec.add_months(dt.date(2021, 1, 10), 18)
