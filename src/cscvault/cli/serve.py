"""`cscvault serve VAULT`: run the web console with uvicorn.

Bound to the loopback interface by default; any other address needs --allow-remote and TLS files, so the
console is never reachable over the network in clear.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from cscvault.cli.options import VaultArg
from cscvault.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, allow_remote: bool, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Refuse a non-loopback address unless --allow-remote and both TLS files are given."""
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{option} {path}: no such file")
    if is_loopback(host):
        return
    if not allow_remote:
        raise UsageError(f"--host {host} is not a loopback address: add --allow-remote with --tls-cert and --tls-key")
    if tls_cert is None:
        raise UsageError(f"--host {host}: serving beyond this machine needs --tls-cert and --tls-key")


def serve(
    vault: VaultArg,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback unless --allow-remote).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a non-loopback --host (needs --tls-cert and --tls-key).")
    ] = False,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="TLS private key (PEM).")] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Ignored: the console reads the stored report from the vault.")
    ] = None,
    study: Annotated[
        Path | None, typer.Option("--study", help="study.toml for the public /notice page before anyone logs in.")
    ] = None,
) -> None:
    """Serve the web console for VAULT (http://127.0.0.1:8765 by default)."""
    import uvicorn  # late: the other commands do not need the web stack

    from cscvault.web.app import create_app  # late, like uvicorn: only `serve` needs the web stack

    check_bind(host, allow_remote, tls_cert, tls_key)
    tls = tls_cert is not None
    app = create_app(vault, report_dir=report_dir, study_path=study, secure_cookies=tls)
    scheme = "https" if tls else "http"
    typer.echo(f"cscvault console on {scheme}://{host}:{port} (Ctrl-C stops it)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        access_log=False,  # URLs carry request ids only, but keep the console quiet and the terminal clean
    )
