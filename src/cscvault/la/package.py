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

from cscvault import __version__
from cscvault.errors import CscvaultError, UsageError
from cscvault.fileio import write_atomic
from cscvault.ingest.package import FILES_DIR, MANIFEST, PACKAGE_FORMAT, PACKAGE_VERSION
from cscvault.study import Study
from cscvault.vault.identity import encrypt_age, parse_recipient


@dataclass(frozen=True)
class PackageResult:
    path: Path
    manifest: dict[str, Any]
    errors: int  # error or fatal findings seen while counting rows (the LA should run `la check`)


def build_package(
    files: list[Path],
    recipient: str,
    out: Path,
    study: Study,
    *,
    la: str | None = None,
    return_label: str | None = None,
) -> PackageResult:
    """Read every file (for its format, LA, return label and row count), then write the encrypted package."""
    from cscvault.ingest.pipeline import read_and_screen  # heavy; only the packaging side needs it

    recip = parse_recipient(recipient)
    if not files:
        raise UsageError("no files to package")
    out = Path(out)
    if out.exists():
        raise UsageError(f"{out}: already exists; choose a new package name")
    names = [Path(f).name for f in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"two files are named '{dupes[0]}'; a package holds each name once")
    la_fixed = study.la(la) if la else None
    entries: list[dict[str, Any]] = []
    payloads: list[tuple[str, bytes]] = []
    seen_las: set[str] = set()
    errors = 0
    for f in map(Path, files):
        try:
            data = f.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"{f}: file not found") from None
        except OSError as exc:
            raise UsageError(f"{f}: cannot be read ({exc.strerror})") from None
        entry: dict[str, Any] = {"name": f.name, "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
        try:
            screened = read_and_screen(f, study, la=la_fixed.ons_code if la_fixed else None, return_label=return_label)
            entry.update(format=screened.format, return_label=screened.return_label, rows=screened.rows_read)
            if screened.la is not None:
                seen_las.add(screened.la.ons_code)
            errors += sum(1 for x in screened.findings if x.severity in ("fatal", "error"))
        except CscvaultError:
            entry.update(format="unknown", return_label=return_label, rows=None)
            errors += 1
        entries.append(entry)
        payloads.append((f.name, data))
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
