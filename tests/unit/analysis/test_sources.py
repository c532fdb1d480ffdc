"""Which outcomes the delivered returns derive, per LA, and the reason named when they cannot."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cscvault.analysis.samples import primary_sample_from_frames
from cscvault.analysis.sources import PRIMARY_OUTCOME, availability_from
from cscvault.study import load_study

CIN = ("referrals", "assessments", "cp_plans", "cin_plans", "children")
FULL = (*CIN, "cla_episodes", "attendance_terms")


def test_every_return_delivered_leaves_nothing_underived() -> None:
    study = load_study()
    available = availability_from(study, {la.ons_code: FULL for la in study.local_authorities})
    assert available.report() == []
    assert available.las_with(PRIMARY_OUTCOME) == tuple(la.name for la in study.local_authorities)


def test_cin_only_names_the_missing_ssda903_for_every_la() -> None:
    study = load_study()
    available = availability_from(study, {la.ons_code: CIN for la in study.local_authorities})
    nd = available.not_derived(PRIMARY_OUTCOME)
    assert nd is not None and nd.everywhere
    assert nd.reason == "no SSDA903 (periods of care) delivered for any LA"
    missing = {n.outcome for n in available.report()}
    # CPP outcomes and re-referral need the CIN census only: derivable
    assert missing == {PRIMARY_OUTCOME, "returned_after_cpp", "unauthorised_absence_3terms"}
    assert nd.to_json()["local_authorities"] is None


def test_one_la_without_returns_is_named_and_the_others_still_derive() -> None:
    study = load_study()
    gone = study.local_authorities[1]
    delivered = {la.ons_code: FULL for la in study.local_authorities if la != gone}
    available = availability_from(study, delivered)
    nd = available.not_derived(PRIMARY_OUTCOME)
    assert nd is not None and nd.local_authorities == (gone.name,) and not nd.everywhere
    assert gone.name in nd.reason and "SSDA903" in nd.reason
    assert gone.name not in available.las_with(PRIMARY_OUTCOME)
    assert len(available.las_with(PRIMARY_OUTCOME)) == len(study.local_authorities) - 1


def test_no_school_census_leaves_out_absence_only() -> None:
    study = load_study()
    no_school = tuple(t for t in FULL if t != "attendance_terms")
    available = availability_from(study, {la.ons_code: no_school for la in study.local_authorities})
    (nd,) = available.report()
    assert nd.outcome == "unauthorised_absence_3terms" and nd.missing == ("school census (attendance)",)


def test_primary_sample_with_no_period_of_care_delivered_has_no_events_and_no_type_error() -> None:
    """The CIN-only crash: with an empty periods-of-care table, care-before-referral compared a float with a
    date. The sample builds; nobody is excluded for earlier care."""
    study = load_study()
    la = study.local_authorities[0]
    day = study.windows.trial_start + dt.timedelta(days=40)
    referrals = pd.DataFrame(
        {
            "child_key": ["a", "b"],
            "la_code": [la.ons_code] * 2,
            "referral_date": [day, day],
            "unborn": [False, False],
            "age_months": [30, 60],
            "previous_cpps": [0, 1],
            "nfa": [False, False],
        }
    )
    children = pd.DataFrame(
        {"child_key": ["a", "b"], "la_code": [la.ons_code] * 2, "gender": ["male", "female"],
         "ethnicity": ["WBRI", "WBRI"], "disability": [False, False], "uasc": [False, False]}
    )  # fmt: skip
    cla = pd.DataFrame({"child_key": pd.Series([], dtype=str), "la_code": [], "start_date": []})
    sample = primary_sample_from_frames(referrals, children, cla, study)
    flow = sample.flow.set_index("la")
    assert flow.loc[la.name, "excluded_care_before_referral"] == 0
    assert flow.loc[la.name, "in_sample"] == 2 and flow.loc[la.name, "events"] == 0
