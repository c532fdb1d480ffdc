"""The typed run summary serialises to results.json's `full_plan` shape and reads back unchanged."""

from __future__ import annotations

import dataclasses

import pytest

from cscvault.analysis.results import HeadlineResult, RunSummary, SensitivityResult, TreatmentEffect

EFFECT = {"estimate": -0.1, "se": 0.1, "odds_ratio": 0.905, "ci_low": 0.74, "ci_high": 1.1, "p_value": 0.32,
          "df": 40.2, "fmi": 0.1, "riv": 0.11}  # fmt: skip
MI = {"m": 10, "seed": 123, "imputed": ["gender"], "n": 3000, "n_events": 500, "optimisers_agree": 10,
      "treatment": EFFECT, "ame": {"estimate": -0.01, "se": 0.005, "odds_ratio": None, "ci_low": -0.02,
      "ci_high": 0.0, "p_value": 0.05, "df": 40.2, "fmi": 0.1, "riv": 0.11}}  # fmt: skip
DOC = {
    "notes": ["a note"],
    "imputation": [MI],
    "headline": MI,
    "design": {"power": 0.8, "alpha": 0.05, "log_or": -0.3, "odds_ratio": 0.74},
    "small_cluster": {"n": 3000, "notes": [], "fe_cr2": {"error": "x"}},
    "structures": {"icc": 0.01},
    "secondary": [{"number": 1, "outcome": "returned_after_cpp", "description": "d", "sample": "s",
                   "model": "glmm-laplace", "effect_measure": "odds ratio", "ratio": True, "estimate": 0.0,
                   "se": 0.2, "ci_low": 0.67, "ci_high": 1.48, "p_value": 1.0, "n": 200, "n_events": 40,
                   "n_censored": 3, "note": "", "effect": 1.0}],
    "sensitivity": [
        {"analysis": "born_only", "description": "born", "n": 2800, "n_events": 480, "odds_ratio": 0.9,
         "ci_low": 0.7, "ci_high": 1.1, "p_value": 0.3, "terms": {}},
        {"analysis": "alt", "description": "alt", "error": "not identified"},
    ],
}  # fmt: skip


def test_round_trip_keeps_the_results_json_shape() -> None:
    summary = RunSummary.from_json(DOC)
    assert summary.to_json() == DOC
    assert list(summary.to_json()) == ["notes", "imputation", "headline", "design", "small_cluster", "structures",
                                       "secondary", "sensitivity"]  # fmt: skip


def test_typed_fields_replace_string_keys() -> None:
    summary = RunSummary.from_json(DOC)
    assert summary.headline.treatment.odds_ratio == 0.905 and summary.headline.imputed == ("gender",)
    assert summary.secondary is not None and summary.secondary[0].effect == 1.0
    assert summary.sensitivity is not None and summary.sensitivity[1].error == "not identified"
    assert summary.exposure_time is None


def test_complete_case_headline_has_the_short_shape() -> None:
    head = HeadlineResult(0, 100, 10, TreatmentEffect.from_json(EFFECT), {"estimate": 0.0})
    assert list(head.to_json()) == ["m", "n", "n_events", "treatment", "ame"]


def test_results_are_frozen() -> None:
    summary = RunSummary.from_json(DOC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.notes = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        summary.design["odds_ratio"] = 2.0  # type: ignore[index]
    entry = SensitivityResult("x", "y", note="n", n=1)
    assert entry.to_json()["note"] == "n"
