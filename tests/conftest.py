"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from tests.public_data import TEST_DATA

# Hypothesis' default 200 ms deadline per example fails property tests on a loaded machine for slowness alone.
settings.register_profile("cscvault", deadline=None)
settings.load_profile("cscvault")


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The small public files committed under tests/data (each folder has its licence and SOURCE.md)."""
    return TEST_DATA
