"""The study definition: the shipped default encodes STUDY.md; bad study files give one clear line."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from cscvault.errors import StudyError, UsageError
from cscvault.study import default_study_path, load_study, parse_study

DEFAULT_TEXT = default_study_path().read_text(encoding="utf-8")


def test_default_study_encodes_the_trial() -> None:
    study = load_study()
    names = [la.name for la in study.local_authorities]
    assert names == ["Walsall", "Lancashire", "Telford and Wrekin", "Wandsworth", "Swindon"]
    assert study.la("E06000020").notice_name == "Telford & Wrekin"
    assert study.la("866").name == "Swindon"
    assert study.la("walsall").go_live == dt.date(2020, 9, 1)
    assert study.windows.data_start == dt.date(2019, 1, 1)
    assert study.windows.data_end == dt.date(2025, 12, 31)
    assert (study.windows.trial_start, study.windows.trial_end) == (
        dt.date(2020, 3, 1),
        dt.date(2022, 11, 24),
    )
    assert [p.name for p in study.periods] == ["baseline"] + [f"wedge_{i}" for i in range(1, 6)]
    assert study.retention.final_report == dt.date(2028, 10, 31)
    assert study.retention.delete_by == dt.date(2033, 10, 31)
    assert [(s.name, s.wedges) for s in study.strata] == [("high", (1, 2)), ("low", (3, 4, 5))]
    assert [study.wedge_of(la) for la in study.local_authorities] == [1, 2, 3, 4, 5]
    # each LA's go-live starts the wedge period with its number
    for la in study.local_authorities:
        assert study.period_of(la.go_live).name == f"wedge_{study.wedge_of(la)}"
    assert study.primary.follow_up_months == 18


def test_study_is_frozen() -> None:
    study = load_study()
    with pytest.raises(FrozenInstanceError):
        study.id = "other"  # type: ignore[misc]


def test_unknown_la_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown local authority"):
        load_study().la("Hertfordshire")


def test_data_dictionary_lists_allowed_fields_only() -> None:
    dd = load_study().data_dictionary
    assert dd.allows("children", "child_key")
    assert dd.allows("cla_episodes", "start_date")
    for identifier in ("name", "postcode", "upn", "nhs_number", "date_of_birth", "address"):
        assert not dd.allows("children", identifier)
    assert [s.label for s in dd.special_fields] == ["ethnicity", "disability status"]


# Each mutation of the default study.toml must fail with a one-line error naming the key.
BAD_STUDIES = [
    (
        "go_live = 2020-09-01",
        "go_live = 2023-09-01",
        r"local_authorities\[0\]\.go_live: must be inside the trial window",
    ),
    (
        "go_live = 2020-09-01",
        "go_live = 2020-09-02",
        r"local_authorities\[0\]\.go_live: must be the start date",
    ),
    (
        'ons_code = "E08000030"',
        'ons_code = "E10000017"',
        r"local_authorities\[1\]\.ons_code: .* is used by Walsall",
    ),
    (
        'ons_code = "E08000030"',
        'ons_code = "W06000001"',
        r"local_authorities\[0\]\.ons_code: is not an English",
    ),
    ('dfe_code = "335"', 'dfe_code = "888"', r"local_authorities\[1\]\.dfe_code: .* is used by Walsall"),
    ('name = "Swindon"', 'name = "Walsall"', r"local_authorities\[4\]\.name: 'Walsall' is declared twice"),
    (
        "data_end = 2025-12-31",
        "data_end = 2018-12-31",
        r"windows\.data_end: must be after windows\.data_start",
    ),
    (
        "trial_end = 2022-11-24",
        "trial_end = 2026-11-24",
        r"windows\.trial_end: must be inside the data window",
    ),
    (
        "trial_start = 2020-03-01",
        "trial_start = 2023-03-01",
        r"windows\.trial_end: must be after windows\.trial_start",
    ),
    (
        "delete_by = 2033-10-31",
        "delete_by = 2027-10-31",
        r"retention\.delete_by: must be after retention\.final_report",
    ),
    (
        "final_report = 2028-10-31",
        "final_report = 2024-10-31",
        r"retention\.final_report: must be after the end",
    ),
    (
        'email = "luke.eastwood@whatworks-csc.org.uk"',
        'email = "luke"',
        r"dpo\.email: is not an e-mail address",
    ),
    (
        "notice_written = 2020-09-18",
        'notice_written = "18/09/2020"',
        r"study\.notice_written: must be a date",
    ),
    ("end = 2020-08-31", "end = 2020-08-30", r"periods\[1\]\.start: must be the day after the end of period"),
    ("wedges = [3, 4, 5]", "wedges = [3, 4]", r"randomisation\.strata: wedges must be 1\.\.5"),
    (
        'stratum = "high"\n\n[[local_authorities]]\nname = "Lancashire"',
        'stratum = "low"\n\n[[local_authorities]]\nname = "Lancashire"',
        r"Walsall: goes live in wedge 1, which is not a wedge of stratum 'low'",
    ),
    ("follow_up_months = 18", "follow_up_months = 0", r"primary\.follow_up_months: must be between"),
    ('[dpo]\nname = "Luke Eastwood"\n', "[dpo]\n", r"dpo\.name: is missing"),
    ("[study]", "[study\n", r"not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD_STUDIES, ids=[b[2][:40] for b in BAD_STUDIES])
def test_bad_study_gives_one_line_naming_the_key(old: str, new: str, expected: str) -> None:
    assert old in DEFAULT_TEXT, "test mutation must match the shipped study"
    text = DEFAULT_TEXT.replace(old, new, 1)
    with pytest.raises(StudyError) as info:
        parse_study(text, source="study.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("study.toml: ")
    assert re.search(expected, message), message


def test_missing_study_file(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"missing\.toml: file not found"):
        load_study(tmp_path / "missing.toml")


def test_study_file_that_is_binary(tmp_path: Path) -> None:
    bad = tmp_path / "study.toml"
    bad.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(StudyError, match="not UTF-8"):
        load_study(bad)


def test_custom_study_with_its_own_dictionary(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text(
        DEFAULT_TEXT.replace('data_dictionary = "data_dictionary.toml"', 'data_dictionary = "dd.toml"')
    )
    dd = 'version = 7\n[[categories]]\nid = "x"\nlabel = "X"\ndescription = "Only x."\nfields = ["children.child_key"{}]\n'
    (tmp_path / "dd.toml").write_text(dd.format(""))
    # the shipped plan's outcome reads cla_episodes.start_date, which this dictionary does not allow
    with pytest.raises(StudyError, match="outcomes.cla_18m.event_date: 'cla_episodes.start_date' is not a field"):
        load_study(tmp_path / "study.toml")
    (tmp_path / "dd.toml").write_text(dd.format(', "cla_episodes.start_date"'))
    study = load_study(tmp_path / "study.toml")
    assert study.data_dictionary.version == 7
    assert study.data_dictionary.fields == frozenset({"children.child_key", "cla_episodes.start_date"})


def test_dictionary_path_cannot_escape_the_study_folder(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text(
        DEFAULT_TEXT.replace('data_dictionary = "data_dictionary.toml"', 'data_dictionary = "../../etc/passwd"')
    )
    with pytest.raises(StudyError, match="study.data_dictionary: must be a file name"):
        load_study(tmp_path / "study.toml")
