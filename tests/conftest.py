"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.public_data import TEST_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The small public files committed under tests/data (each folder has its licence and SOURCE.md)."""
    return TEST_DATA
