"""`cscvault serve`: loopback by default; any other address needs --allow-remote and TLS files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cscvault import api
from cscvault.cli.serve import check_bind, is_loopback
from cscvault.errors import UsageError
from tests.helpers import PASSWORD


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare vault: these tests only start the server."""
    return api.init_vault(tmp_path_factory.mktemp("serve") / "v", PASSWORD).path


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_bind_rules(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    check_bind("127.0.0.1", False, None, None)
    with pytest.raises(UsageError, match="not a loopback address"):
        check_bind("0.0.0.0", False, None, None)
    with pytest.raises(UsageError, match="needs --tls-cert and --tls-key"):
        check_bind("0.0.0.0", True, None, None)
    with pytest.raises(UsageError, match="go together"):
        check_bind("0.0.0.0", True, cert, None)
    with pytest.raises(UsageError, match="no such file"):
        check_bind("0.0.0.0", True, cert, tmp_path / "missing.pem")
    check_bind("0.0.0.0", True, cert, key)


def test_serve_refuses_a_remote_host_without_tls(vault: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cscvault.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", str(vault), "--host", "0.0.0.0", "--port", "8999"])
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "--allow-remote" in stderr and len(stderr.strip().splitlines()) == 1


def test_serve_answers_on_loopback(vault: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSCVAULT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cscvault", "serve", str(vault), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 600  # a loaded machine can take minutes to start it
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/notice", timeout=5) as response:
                    assert response.status == 200
                    assert response.headers["X-Frame-Options"] == "DENY"
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the console did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
