"""Checks made before anyone is asked for a password: no vault, a destroyed vault, the users a key file names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cscvault import api
from cscvault.errors import VaultStateError
from tests.helpers import PASSWORD


def test_a_missing_folder_is_no_vault_without_loading_the_storage_stack(tmp_path: Path) -> None:
    with pytest.raises(VaultStateError, match="no vault here"):
        api.check_vault_dir(tmp_path / "nowhere")


def test_a_folder_without_a_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VaultStateError):
        api.check_vault_dir(tmp_path)


def test_a_vault_passes_and_its_user_names_come_from_the_key_file(tmp_path: Path) -> None:
    vault = api.init_vault(tmp_path / "v", PASSWORD, admin="alice").path
    assert api.check_vault_dir(vault) == vault
    assert api.vault_user_names(vault) == {"alice"}
    assert "duckdb" in sys.modules  # the storage stack loads once there is a vault to look at
