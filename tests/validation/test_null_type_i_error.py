"""Type I error of the headline tests under the null over 1,000 re-randomised replications (issues 6, 17).

`make validate` only (about 45-55 CPU s in all: 34 s wall with two workers at load 2-3, 4.3 min at load 12-22). The same figures
from the command line: `cscvault design null-sim --reps 1000 --workers 2 --json`.
Measured (seed 1, default design: 5 LAs, 6 periods, 27,000 children): the t test with 19 between-within df
rejected 48 of 1,000 (0.048, exact 95% CI 0.036-0.063); the Wald z-test 61 (0.061, 0.047-0.078).
"""

from __future__ import annotations

import pytest

from cscvault.analysis.null_simulation import NullSimulationSpec, run_null_simulation
from cscvault.study import load_study


@pytest.mark.slow
def test_type_i_error_is_nominal():
    res = run_null_simulation(load_study(), NullSimulationSpec(replications=1000, seed=1), workers=2)
    print(res.as_dict())
    assert res.not_converged == 0
    assert res.small_sample is not None and res.df == 19
    # Issue 17's band for the headline (small-sample) test; at 1,000 replications a true 5% rate lands in
    # 3.6-6.4% 95% of the time, so the band is tight but a miscalibrated df (t(3): 0.002; z: 0.061) fails.
    assert 0.04 <= res.small_sample.type_i_error <= 0.06
    # The Wald z-test is reported beside it, in issue 6's band (it runs liberal).
    assert 0.03 <= res.type_i_error <= 0.07
    assert res.small_sample.rejections <= res.rejections  # t(df) rejects a subset of what z rejects
