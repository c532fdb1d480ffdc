"""Pseudonyms: child_key = HMAC-SHA256(key, la_code + ":" + la_child_id), as lowercase hex.

Pure functions taking the pseudonymisation key bytes; the LA's own id is never stored. The same
function answers a rights request that quotes an LA id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cscvault.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

MIN_KEY_BYTES = 32


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise UsageError(f"the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes")


def child_key(key: bytes, la_code: str, la_child_id: str) -> str:
    """The pseudonym of one child. `la_code` is the LA's ONS code; the id is used exactly as read
    (stripped of surrounding spaces)."""
    _check_key(key)
    message = f"{la_code.strip()}:{str(la_child_id).strip()}".encode()
    return hmac.new(bytes(key), message, hashlib.sha256).hexdigest()


def child_keys(key: bytes, la_code: str, la_child_ids: Iterable[object]) -> list[str]:
    """`child_key` of each id, in order (`hmac.digest` is the one-shot C path: a million ids a second)."""
    _check_key(key)
    k, prefix, digest = bytes(key), f"{la_code.strip()}:".encode(), hmac.digest
    return [digest(k, prefix + str(cid).strip().encode(), "sha256").hex() for cid in la_child_ids]


def pseudonymise_frame(df: pd.DataFrame, key: bytes, la_code: str, id_column: str = "la_child_id") -> pd.DataFrame:
    """A copy with `child_key` in place of the LA id column (computed once per distinct id)."""
    _check_key(key)
    if id_column not in df.columns:
        return df.copy()
    import pandas as pd  # here, not at the top: opening a vault should not load pandas

    ids = df[id_column]
    keys = {v: child_key(key, la_code, str(v)) for v in pd.unique(ids[ids.notna()])}
    out = df.drop(columns=[id_column])
    out.insert(0, "child_key", ids.map(keys).astype("string"))
    return out
