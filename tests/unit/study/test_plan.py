"""The analysis plan is a frozen, typed object checked against the data dictionary at load: a plan naming an
outcome or covariate the dictionary lacks is refused with one line naming the key (exit 2)."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from cscvault.errors import EXIT_USAGE, StudyError
from cscvault.study import load_study, parse_study
from cscvault.study.load import default_study_path

STUDY = default_study_path().read_text(encoding="utf-8")
PLAN = (resources.files("cscvault.study") / "data" / "analysis_plan.toml").read_text(encoding="utf-8")
DICTIONARY = (resources.files("cscvault.study") / "data" / "data_dictionary.toml").read_text(encoding="utf-8")


def refused(plan: str = PLAN, dictionary: str = DICTIONARY) -> str:
    with pytest.raises(StudyError) as caught:
        parse_study(STUDY, plan_text=plan, dictionary_text=dictionary)
    assert caught.value.exit_code == EXIT_USAGE
    message = caught.value.message
    assert "\n" not in message
    return message


def test_the_shipped_plan_is_typed_and_frozen() -> None:
    plan = load_study().analysis_plan
    primary = plan.primary
    assert primary.outcome == "cla_18m" and primary.cluster == "la" and "uasc" in primary.covariates
    assert plan.numeric_covariates(primary.covariates) == ("white_share",)
    assert plan.references()["uasc"] == "false" and plan.outcomes["cla_18m"].window_months == 18
    assert primary.options["agq_points"] == 25
    # a model based on the primary inherits its covariates
    assert plan.models["exposure_time"].covariates == primary.covariates
    with pytest.raises(dataclasses.FrozenInstanceError):
        primary.outcome = "other"  # type: ignore[misc]
    assert plan["models"]["primary"]["cluster"] == "la"  # mapping access for older code


def test_a_covariate_the_dictionary_lacks_is_refused_naming_the_key() -> None:
    plan = PLAN.replace('"uasc", "white_share"]', '"uasc", "white_share", "shoe_size"]')
    assert refused(plan) == "analysis_plan.toml: models.primary.covariates: 'shoe_size' is not a covariate of the plan"


def test_a_declared_covariate_whose_variable_the_dictionary_lacks_is_refused() -> None:
    plan = PLAN.replace('uasc = { name = "uasc"', 'uasc = { name = "asylum"')
    assert refused(plan) == (
        "analysis_plan.toml: covariates.uasc.name: 'asylum' is not a variable of the data dictionary"
    )


def test_an_outcome_the_dictionary_lacks_is_refused_naming_the_key() -> None:
    plan = PLAN.replace("[outcomes.cla_18m]", "[outcomes.adopted_12m]")
    assert (
        refused(plan)
        == "analysis_plan.toml: outcomes.adopted_12m: 'adopted_12m' is not a variable of the data dictionary"
    )


def test_an_outcome_event_field_outside_the_dictionary_is_refused() -> None:
    plan = PLAN.replace('event_date = "start_date"', 'event_date = "birth_date"')
    assert refused(plan) == (
        "analysis_plan.toml: outcomes.cla_18m.event_date: 'cla_episodes.birth_date' is not a field of the data "
        "dictionary"
    )


def test_a_model_outcome_that_is_not_planned_is_refused() -> None:
    plan = PLAN.replace('outcome = "cla_18m"\nfamily', 'outcome = "cla_24m"\nfamily')
    assert refused(plan) == "analysis_plan.toml: models.primary.outcome: 'cla_24m' is not an outcome of the plan"


def test_a_reference_level_outside_the_levels_is_refused() -> None:
    plan = PLAN.replace(
        'levels = ["male", "female", "other"], reference = "male"', 'levels = ["male", "female"], reference = "other"'
    )
    assert refused(plan) == "analysis_plan.toml: covariates.gender.reference: 'other' is not one of its levels"


def test_a_dictionary_variable_built_from_a_field_it_does_not_allow_is_refused() -> None:
    dictionary = DICTIONARY.replace('fields = ["children.uasc"]', 'fields = ["children.passport"]')
    assert refused(dictionary=dictionary) == (
        "data_dictionary.toml: variables.uasc.fields: 'children.passport' is not a field of any category"
    )


def test_variables_carry_the_words_reports_use() -> None:
    uasc = load_study().data_dictionary.variable("uasc")
    assert uasc is not None and uasc.label == "Unaccompanied asylum seeker" and uasc.level_label("true") == "yes"


def test_init_refuses_a_plan_naming_an_unknown_covariate_with_exit_2_and_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cscvault import cli

    (tmp_path / "study.toml").write_text(STUDY)
    (tmp_path / "analysis_plan.toml").write_text(PLAN.replace('"uasc", "white_share"]', '"uasc", "shoe_size"]'))
    monkeypatch.setenv("CSCVAULT_PASSWORD", "correct horse battery staple")
    with pytest.raises(SystemExit) as exited:
        cli.main(["init", str(tmp_path / "v"), "--study", str(tmp_path / "study.toml")])
    assert exited.value.code == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "error: analysis_plan.toml: models.primary.covariates: 'shoe_size' is not a covariate of the plan"
    )
    assert not (tmp_path / "v").exists()


def test_the_study_with_its_plan_pickles_for_the_ingest_workers() -> None:
    """Ingest sends the Study to its worker processes; a plan that cannot pickle stops every large ingest."""
    import pickle

    from cscvault.study import load_study

    study = load_study()
    again = pickle.loads(pickle.dumps(study))
    assert again.analysis_plan == study.analysis_plan
