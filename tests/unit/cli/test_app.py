"""The command line loads light: `cscvault --help`, `--version` and argument errors never import the data stack,
so they answer at once (the API resolves its names on first use)."""

from __future__ import annotations

import json
import subprocess
import sys

# rich is allowed: typer renders --help with it.
HEAVY = ("pandas", "numpy", "scipy", "statsmodels", "duckdb", "matplotlib", "pyarrow", "fastapi")


def _modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _modules_after("import cscvault.cli") == []


def test_help_and_a_usage_error_import_no_heavy_library() -> None:
    for argv in (["--help"], ["--version"], ["model", "glmm"], ["rights", "open", "/nonexistent"]):
        code = (
            "import sys\nfrom cscvault.cli import app\n"
            f"try:\n    app(args={argv!r}, standalone_mode=False)\nexcept BaseException:\n    pass"
        )
        assert _modules_after(code) == [], argv


def test_every_front_end_module_lives_in_cli_or_web() -> None:
    """typer appears only in the command-line package."""
    from pathlib import Path

    import cscvault

    src = Path(cscvault.__file__).parent
    users = sorted(
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if "import typer" in p.read_text(encoding="utf-8") or "from typer" in p.read_text(encoding="utf-8")
    )
    assert users and all(u.startswith("cli/") for u in users), users
