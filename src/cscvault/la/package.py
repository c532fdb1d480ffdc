"""Delivery packages: an LA's return files in one age-encrypted file with a manifest.

    PKG (age, X25519, to the vault's recipient)
      tar: manifest.json         format, LA, return label, and per file: name, SHA-256, size, format, rows
           files/NAME ...        the return files, byte for byte

Age authenticates the ciphertext, but anyone holding the vault's public recipient can make a package,
so the manifest is checked too: every file must be listed, present once and match its SHA-256. A file
changed after packaging is rejected naming the file. The manifest holds no child-level values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrage import x25519

from cscvault import __version__
from cscvault.errors import CscvaultError, DataError, UsageError
from cscvault.study import Study
from cscvault.vault.files import write_atomic
from cscvault.vault.identity import decrypt_age, encrypt_age, parse_identity, parse_recipient

PACKAGE_FORMAT = "cscvault-la-package"
PACKAGE_VERSION = 1
MANIFEST = "manifest.json"
FILES_DIR = "files/"
MAX_PACKAGE_BYTES = 4 * 1024**3
AGE_MAGIC = b"age-encryption.org/"


@dataclass(frozen=True)
class PackageResult:
    path: Path
    manifest: dict[str, Any]
    errors: int  # error or fatal findings seen while counting rows (the LA should run `la check`)


@dataclass(frozen=True)
class Package:
    """An opened, verified package."""

    manifest: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def la(self) -> str | None:
        la = self.manifest.get("la")
        return str(la["ons_code"]) if isinstance(la, dict) and la.get("ons_code") else None

    def return_label(self, name: str) -> str | None:
        for f in self.manifest["files"]:
            if f["name"] == name:
                label = f.get("return_label")
                return str(label) if label else None
        return None


def looks_like_package(path: Path) -> bool:
    """An age file (ingest hands these to `open_package`)."""
    try:
        with Path(path).open("rb") as fh:
            return fh.read(len(AGE_MAGIC)) == AGE_MAGIC
    except OSError:
        return False


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in {".", ".."} and "\x00" not in name


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
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: folder does not exist; create it or choose another --out")
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


def _identities(identity: x25519.Identity | str) -> list[x25519.Identity]:
    if isinstance(identity, str):
        return [parse_identity(identity)]
    return [identity]


def read_package(pkg_path: Path | str, identity: x25519.Identity | str) -> Package:
    """Decrypt a package and verify its manifest; every failure is one line naming the package or file."""
    pkg = Path(pkg_path)
    label = pkg.name
    try:
        if pkg.stat().st_size > MAX_PACKAGE_BYTES:
            raise DataError(f"{label}: package larger than {MAX_PACKAGE_BYTES >> 30} GiB")
        data = pkg.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{label}: package not found") from None
    except OSError as exc:
        raise UsageError(f"{label}: cannot be read ({exc.strerror})") from None
    plain = decrypt_age(data, _identities(identity), label)
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
            members = tar.getmembers()
            if not members or members[0].name != MANIFEST or not members[0].isfile():
                raise DataError(f"{label}: the package has no manifest")
            manifest = json.loads(_read(tar, members[0]).decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
                raise DataError(f"{label}: not a cscvault LA package (manifest format)")
            if manifest.get("version") != PACKAGE_VERSION:
                raise DataError(f"{label}: package version {manifest.get('version')} is not supported")
            listed = {str(f["name"]): f for f in manifest["files"]}
            found: dict[str, bytes] = {}
            for m in members[1:]:
                name = m.name[len(FILES_DIR) :] if m.name.startswith(FILES_DIR) else ""
                if not m.isfile() or not _safe_name(name):
                    raise DataError(f"{label}: unexpected entry '{m.name}' in the package")
                if name not in listed:
                    raise DataError(f"{label}: file '{name}' is not listed in the manifest")
                if name in found:
                    raise DataError(f"{label}: file '{name}' appears twice in the package")
                found[name] = _read(tar, m)
    except (tarfile.TarError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise DataError(f"{label}: the package's contents are malformed") from None
    files: list[tuple[str, bytes]] = []
    for name, entry in listed.items():
        if name not in found:
            raise DataError(f"{label}: file '{name}' is listed in the manifest but missing")
        blob = found[name]
        if hashlib.sha256(blob).hexdigest() != entry.get("sha256") or len(blob) != entry.get("size_bytes"):
            raise DataError(f"{label}: file '{name}' was altered after packaging (SHA-256 differs from the manifest)")
        files.append((name, blob))
    return Package(manifest, files)


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    fh = tar.extractfile(member)
    if fh is None:
        raise DataError(f"unreadable entry '{member.name}' in the package")
    return fh.read()


def open_package(pkg_path: Path | str, identity: x25519.Identity | str) -> list[tuple[str, bytes]]:
    """The verified files of a package as (name, bytes), in manifest order."""
    return read_package(pkg_path, identity).files


@contextlib.contextmanager
def extracted_package(pkg_path: Path | str, identity: x25519.Identity | str) -> Iterator[tuple[Package, list[Path]]]:
    """The verified files written to a private folder for readers that need a path; removed afterwards.

    The folder is made in RAM-backed /dev/shm when it exists (so the plaintext return never reaches
    the disk unless the machine swaps), else in the system temp folder; mode 0700, files 0600, and each
    file is overwritten before it is removed.
    """
    package = read_package(pkg_path, identity)
    shm = Path("/dev/shm")  # noqa: S108 - only a parent; mkdtemp below makes a private 0700 folder
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="cscvault-package-", dir=base))
    paths: list[Path] = []
    try:
        for name, data in package.files:
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            paths.append(path)
        yield package, paths
    finally:
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                with path.open("r+b") as fh:
                    fh.write(b"\0" * size)
                path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
