"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path | None:
    """The development-only shared/ folder: $CSCVAULT_SHARED, or ../shared beside the checkout."""
    env = os.environ.get("CSCVAULT_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared", REPO.parent.parent / "shared"]
    for c in candidates:
        if (c / "design").is_dir() or (c / "fixtures").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    found = _find_shared()
    if found is None:
        pytest.skip("the development-only shared/ folder is not beside this checkout")
    return found
