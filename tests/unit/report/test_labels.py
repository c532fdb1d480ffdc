"""Model terms in the data dictionary's words."""

from __future__ import annotations

import pytest

from cscvault.report.labels import term_label
from cscvault.study import load_study


@pytest.mark.parametrize(
    ("term", "label"),
    [
        ("uasc[<NA>]", "Unaccompanied asylum seeker: not recorded"),
        ("uasc[missing]", "Unaccompanied asylum seeker: not recorded"),
        ("uasc[true]", "Unaccompanied asylum seeker: yes"),
        ("disabled[true]", "Disabled: yes"),
        ("age_group[-1]", "Age at referral (years): unborn"),
        ("age_group[7]", "Age at referral (years): 7"),
        ("ethnicity_group[Asian]", "Ethnicity: Asian"),
        ("white_share", "White share of the LA-month's referrals"),
        ("treatment", "Family Safeguarding (after go-live)"),
        ("period[wedge_2]", "Period: wedge_2"),
        ("(Intercept)", "Intercept"),
        ("treatment:readiness[High]", "Family Safeguarding (after go-live) × Readiness stratum: High"),
        ("something_else", "something_else"),
    ],
)
def test_terms_read_as_words(term: str, label: str) -> None:
    assert term_label(term, load_study().data_dictionary) == label
