"""Pseudonyms: the child key is an HMAC of (LA, LA child id) under the vault's pseudonymisation key."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from cscvault.errors import UsageError
from cscvault.vault.pseudonyms import child_key, pseudonymise_frame

KEY = bytes(range(32))


def test_child_key_is_hmac_sha256_of_la_and_id():
    expected = hmac.new(KEY, b"E08000030:12345", hashlib.sha256).hexdigest()
    assert child_key(KEY, "E08000030", "12345") == expected
    assert child_key(KEY, "E08000030", " 12345 ") == expected
    assert child_key(KEY, "E10000017", "12345") != expected
    assert len(expected) == 64


def test_short_key_refused_without_echoing_it():
    with pytest.raises(UsageError) as info:
        child_key(b"short", "E08000030", "1")
    assert "short" not in str(info.value)


def test_pseudonymise_frame_drops_the_la_id():
    df = pd.DataFrame({"la_child_id": ["1", "2", "1", None], "x": [1, 2, 3, 4]})
    out = pseudonymise_frame(df, KEY, "E08000030")
    assert "la_child_id" not in out.columns
    assert out["child_key"].iloc[0] == out["child_key"].iloc[2] == child_key(KEY, "E08000030", "1")
    assert pd.isna(out["child_key"].iloc[3])
