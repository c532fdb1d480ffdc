"""The layering contract in pyproject.toml holds, and it is not a contract that cannot fail: an upward import
added across any layer boundary (or a front end reaching past the API) breaks `lint-imports`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (module that gains the import, module it imports): one pair per layer boundary of the contract, plus
# siblings that must stay independent and a front end reaching past the API.
UPWARD = [
    ("errors", "cscvault.clock"),
    ("clock", "cscvault.study"),
    ("study", "cscvault.vault"),
    ("vault", "cscvault.ingest"),
    ("formats", "cscvault.ingest"),
    ("ingest", "cscvault.analysis"),
    ("analysis", "cscvault.rights"),
    ("disclosure", "cscvault.report"),
    ("report", "cscvault.api"),
    ("api", "cscvault.web"),
    ("web", "cscvault.cli"),
    ("formats", "cscvault.vault"),  # independent siblings
    ("rights", "cscvault.disclosure"),  # independent siblings
    ("web", "cscvault.vault"),  # front ends call only the API
    ("cli", "cscvault.ingest"),
]


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "src" / "cscvault", tmp_path / "src" / "cscvault", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy(tmp_path_factory.mktemp("layers"))


def test_the_contract_holds_on_the_source(pristine: Path) -> None:
    result = _lint(pristine)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("where", "imported"), UPWARD)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, where: str, imported: str) -> None:
    root = _copy(tmp_path)
    package = root / "src" / "cscvault" / where
    scratch = package / "_scratch_upward.py" if package.is_dir() else package.with_name(f"{where}.py")
    if package.is_dir():
        scratch.write_text(f"import {imported}  # noqa: F401\n", encoding="utf-8")
    else:  # a single-module layer: the import goes into the module itself
        scratch.write_text(scratch.read_text(encoding="utf-8") + f"\nimport {imported}  # noqa: E402,F401\n")
    result = _lint(root)
    assert result.returncode != 0, f"{where} -> {imported} was not caught"
    assert "BROKEN" in result.stdout
