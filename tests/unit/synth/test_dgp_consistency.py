"""The child-level process gives internally consistent events (the returns inherit this)."""

from __future__ import annotations

import numpy as np
import pytest

from cscvault.study import load_study
from cscvault.synth import dgp
from cscvault.synth.dates import NO_DATE, day
from cscvault.synth.rates import load_rates


@pytest.fixture(scope="module")
def batches():
    study = load_study()
    rates = load_rates(study)
    s = dgp.calibrate(study, rates.common, rates.las, 11, 0.85, False)
    return s, [dgp.simulate_batch(s, la, i, 0, 6000, 0) for i, la in enumerate(rates.las)]


def _ok(a):
    return a != NO_DATE


def test_events_follow_their_referral(batches):
    _s, bs = batches
    for b in bs:
        ref = b.r_date
        for name in ("r_asmt_start", "r_s47", "r_cpp_start", "r_cin_start", "r_pre_start", "r_proc_issue", "r_closure"):
            d = getattr(b, name)
            assert np.all(d[_ok(d)] >= ref[_ok(d)]), name
        a, auth = b.r_asmt_start, b.r_asmt_auth
        assert np.all(auth[_ok(auth)] >= a[_ok(auth)])
        assert np.all(_ok(a)[_ok(auth)])
        for s, e in (
            ("r_cpp_start", "r_cpp_end"),
            ("r_cin_start", "r_cin_end"),
            ("r_pre_start", "r_pre_end"),
            ("r_proc_issue", "r_proc_end"),
        ):
            st, en = getattr(b, s), getattr(b, e)
            both = _ok(st) & _ok(en)
            assert np.all(en[both] >= st[both]), s
            assert not np.any(_ok(en) & ~_ok(st)), e
        # a CPP always follows a section 47 enquiry and an initial conference
        cpp = _ok(b.r_cpp_start)
        assert np.all(_ok(b.r_s47)[cpp]) and np.all(b.r_s47[cpp] <= b.r_cpp_start[cpp])
        assert np.all(b.r_icpc[cpp] == b.r_cpp_start[cpp])
        # no assessment after a no-further-action referral
        assert not np.any(b.r_nfa & _ok(b.r_asmt_start))


def test_episodes_of_need_do_not_overlap(batches):
    _s, bs = batches
    for b in bs:
        same = b.r_child[1:] == b.r_child[:-1]
        prev_close = b.r_closure[:-1][same]
        nxt = b.r_date[1:][same]
        # a re-referral only follows a closed episode
        assert np.all(prev_close != NO_DATE)
        assert np.all(nxt > prev_close)


def test_looked_after_episodes_are_contiguous_and_ordered(batches):
    s, bs = batches
    for b in bs:
        if b.e_child.size == 0:
            continue
        assert np.all(np.diff(b.e_child) >= 0)
        same = b.e_child[1:] == b.e_child[:-1]
        # within a period of care each episode ends the day the next begins, with REC X1
        assert np.all(b.e_end[:-1][same] == b.e_start[1:][same])
        assert np.all(b.e_rec[:-1][same] == "X1")
        assert np.all(b.e_start <= s.data_end)
        closed = b.e_end != NO_DATE
        assert np.all(b.e_end[closed] > b.e_start[closed])
        first = np.r_[True, ~same]
        assert np.all(b.e_rne[first] == "S")
        assert np.all(b.e_start[first] == b.care_start[b.e_child[first]])
        # care starts after birth, from a referral, within 18 months of it
        kids = np.flatnonzero(b.care_start != NO_DATE)
        assert np.all(b.care_start[kids] >= b.dob[kids])
        refs = b.care_ref[kids]
        assert np.all(b.r_date[refs] <= b.care_start[kids])
        assert np.all(b.r_child[refs] == kids)


def test_legal_status_and_return_home_codes_are_real_codes(batches):
    _s, bs = batches
    ls = set(np.concatenate([b.e_ls for b in bs]).tolist())
    assert ls <= {"V2", "C1", "C2", "E1", "L1", "L2"}
    places = set(np.concatenate([b.e_place for b in bs]).tolist())
    assert {"U1", "U3"} & places, "kinship placements are generated"
    recs = set(np.concatenate([b.e_rec for b in bs]).tolist())
    assert "E4A" in recs and "X1" in recs


def test_treatment_switches_on_at_go_live(batches):
    _s, bs = batches
    for b in bs:
        go = day(b.la.la.go_live)
        assert np.array_equal(b.r_treated, b.r_date >= go)


def test_data_window_respected(batches):
    s, bs = batches
    for b in bs:
        assert b.r_date.min() >= s.data_start
        assert b.r_date.max() <= s.data_end
