"""Identifier bait has valid check digits, so screening that checks them is really tested."""

from __future__ import annotations

import numpy as np

from cscvault.synth import identifiers as ids


def test_known_nhs_numbers():
    assert ids.nhs_number_valid("943 476 5919")  # the NHS's published example number
    assert not ids.nhs_number_valid("943 476 5918")
    assert ids.nhs_check_digit("401023213") == 7  # 401 023 2137


def test_generated_nhs_numbers_are_valid_and_formatted():
    values = ids.nhs_numbers(np.random.default_rng(0), 300)
    assert all(ids.nhs_number_valid(v) for v in values)
    assert all(len(v) == 12 and v[3] == " " and v[7] == " " for v in values)
    # a single changed digit breaks the check digit for most numbers
    broken = [v[:-1] + str((int(v[-1]) + 1) % 10) for v in values]
    assert not any(ids.nhs_number_valid(v) for v in broken)


def test_upns_carry_a_valid_check_letter_and_the_la_number():
    values = ids.upns(np.random.default_rng(1), 200, "894")
    assert all(ids.upn_valid(v) and v[1:4] == "894" for v in values)
    assert not ids.upn_valid("A" + values[0][1:]) or values[0][0] == "A"


def test_postcodes_use_the_la_areas():
    pcs = ids.postcodes(np.random.default_rng(2), 50, ("TF",))
    assert all(p.startswith("TF") and len(p.split()) == 2 and len(p.split()[1]) == 3 for p in pcs)
