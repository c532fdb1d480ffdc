"""Reading an LA's delivery package: decrypt, check the manifest, hand the verified files to ingest.

    PKG (age, X25519, to the vault's recipient)
      tar: manifest.json         format, LA, return label, and per file: name, SHA-256, size, format, rows
           files/NAME ...        the return files, byte for byte

Age authenticates the ciphertext, but anyone holding the vault's public recipient can make a package,
so the manifest is checked too: every file must be listed, present once and match its SHA-256. A file
changed after packaging is rejected naming the file. The manifest holds no child-level values.
The LA side builds packages in `cscvault.la.package`; this module is the format both sides share.
"""

from __future__ import annotations

import contextlib
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

from cscvault.errors import DataError, UsageError
from cscvault.vault.identity import decrypt_age, parse_identity

PACKAGE_FORMAT = "cscvault-la-package"
PACKAGE_VERSION = 1
MANIFEST = "manifest.json"
FILES_DIR = "files/"
MAX_PACKAGE_BYTES = 4 * 1024**3
AGE_MAGIC = b"age-encryption.org/"


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


def safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in {".", ".."} and "\x00" not in name


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
                if not m.isfile() or not safe_name(name):
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
