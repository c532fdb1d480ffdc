"""`--la-spread` scales the LAs' differences in care risk, so model checks can reach a near-zero LA variance."""

from __future__ import annotations

import numpy as np
import pytest

from cscvault.errors import UsageError
from cscvault.study import load_study
from cscvault.synth import dgp
from cscvault.synth.generate import generate
from cscvault.synth.rates import load_rates

STUDY = load_study()
RATES = load_rates(STUDY)


def _intercepts(spread: float) -> np.ndarray:
    s = dgp.calibrate(STUDY, RATES.common, RATES.las, 5, 0.85, True, spread)
    return np.array([s.intercepts[la.la.ons_code] for la in RATES.las])


def test_spread_scales_deviations_about_the_mean():
    real, none, double = _intercepts(1.0), _intercepts(0.0), _intercepts(2.0)
    assert np.std(real) > 0.1  # the real LAs differ
    assert np.allclose(none, real.mean())
    assert np.allclose(double - real.mean(), 2 * (real - real.mean()))


def test_no_spread_removes_the_la_differences_in_care(tmp_path):
    summary = generate(tmp_path / "out", seed=3, children=20_000, formats="903", clean=True, la_spread=0.0)
    import json

    truth = json.loads(summary.truth_path.read_text())
    assert truth["true_parameters"]["care_model"]["la_random_effect_sd"] == 0.0
    assert truth["true_parameters"]["care_model"]["la_spread"] == 0.0
    assert {la["true_parameters"]["la_random_effect"] for la in truth["local_authorities"].values()} == {0.0}


@pytest.mark.parametrize("spread", [-0.1, 3.5])
def test_spread_out_of_range_is_a_usage_error(tmp_path, spread):
    with pytest.raises(UsageError, match="--la-spread"):
        generate(tmp_path / "out", children=1000, la_spread=spread)
