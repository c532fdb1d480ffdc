"""Building delivery packages (the LA side): an LA's return files in one age-encrypted file with a manifest.

    PKG (age, X25519, to the vault's recipient)
      tar: manifest.json         format, LA, return label, and per file: name, SHA-256, size, format, rows
           files/NAME ...        the return files, byte for byte

Age authenticates the ciphertext, but anyone holding the vault's public recipient can make a package,
so the manifest is checked too: every file must be listed, present once and match its SHA-256. A file
changed after packaging is rejected naming the file. The manifest holds no child-level values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrage import x25519

from cscvault import __version__
from cscvault.errors import DataError, UsageError
from cscvault.fileio import write_atomic
from cscvault.ingest.package import FILES_DIR, MANIFEST, PACKAGE_FORMAT, PACKAGE_VERSION
from cscvault.la.check import FileCheck, check_file
from cscvault.study import Study
from cscvault.vault.identity import encrypt_age, parse_recipient


@dataclass(frozen=True)
class PackageResult:
    path: Path
    manifest: dict[str, Any]
    errors: int  # error or fatal findings (`la check`'s count); non-zero only when allow_errors was given


def preflight(files: list[Path], recipient: str, out: Path) -> x25519.Recipient:
    """The usage errors of a package request, found before any file is read or checked."""
    recip = parse_recipient(recipient)
    if not files:
        raise UsageError("no files to package")
    if Path(out).exists():
        raise UsageError(f"{out}: already exists; choose a new package name")
    if not Path(out).parent.is_dir():
        raise UsageError(f"{Path(out).parent}: folder does not exist; create it or choose another --out")
    names = [Path(f).name for f in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"two files are named '{dupes[0]}'; a package holds each name once")
    return recip


def build_package(
    files: list[Path],
    recipient: str,
    out: Path,
    study: Study,
    *,
    la: str | None = None,
    return_label: str | None = None,
    allow_errors: bool = False,
    checks: list[FileCheck] | None = None,
) -> PackageResult:
    """Check every file exactly as `la check` does, then write the encrypted package.

    A file with error or fatal findings (the ones that make `la check` exit 3) stops packaging with a
    `DataError` unless `allow_errors` is given; the manifest records that it was, with each file's
    error count per rule id. `checks` are `la check`'s results for the same files (the CLI has just
    printed them); without them the files are checked here.
    """
    recip = preflight(files, recipient, out)
    out = Path(out)
    names = [Path(f).name for f in files]
    la_fixed = study.la(la) if la else None
    payloads: list[tuple[str, bytes]] = []
    for f in map(Path, files):
        try:
            payloads.append((f.name, f.read_bytes()))
        except FileNotFoundError:
            raise UsageError(f"{f}: file not found") from None
        except OSError as exc:
            raise UsageError(f"{f}: cannot be read ({exc.strerror})") from None
    if checks is None or [c.file for c in checks] != names:
        code = la_fixed.ons_code if la_fixed else None
        checks = [check_file(Path(f), study, la=code, return_label=return_label) for f in files]
    errors = sum(c.errors for c in checks)
    if errors and not allow_errors:
        failing = sum(1 for c in checks if c.errors)
        raise DataError(
            f"{errors} error(s) in {failing} file(s); not packaged: fix them (see `cscvault la check`)"
            " or give --allow-errors"
        )
    entries: list[dict[str, Any]] = []
    seen_las: set[str] = set()
    for (name, data), chk in zip(payloads, checks, strict=True):
        entry: dict[str, Any] = {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
        if chk.failure:
            entry.update(format="unknown", return_label=return_label, rows=None)
        else:
            entry.update(format=chk.format, return_label=chk.return_label, rows=chk.rows_read)
        entry.update(errors=chk.errors, error_rules=chk.error_rules)
        if chk.la_code is not None:
            seen_las.add(chk.la_code)
        entries.append(entry)
    if la_fixed is None:
        if len(seen_las) > 1:
            raise UsageError("the files come from more than one LA; package each LA's files separately")
        if not seen_las:
            raise UsageError("the LA could not be read from the files; give --la NAME")
        la_fixed = study.la(seen_las.pop())
    manifest: dict[str, Any] = {
        "format": PACKAGE_FORMAT,
        "version": PACKAGE_VERSION,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "study_id": study.id,
        "la": {"name": la_fixed.name, "ons_code": la_fixed.ons_code},
        "return_label": return_label,
        "files": entries,
        # Packaged although `la check` found errors: the evaluator sees that the LA chose to send them.
        "allow_errors": allow_errors,
        "errors": errors,
        "software": {"cscvault": __version__},
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        for name, data in payloads:
            _add(tar, FILES_DIR + name, data)
    write_atomic(out, encrypt_age(buf.getvalue(), [recip]), mode=0o644)
    return PackageResult(out, manifest, errors)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
