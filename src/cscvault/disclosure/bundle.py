"""Export of an approved release as a bundle, and verification of a bundle.

A bundle (OUT/RELEASE_ID) holds each released file once, under `outputs/`, exactly as the checker
approved it; `models/` one CSV per fitted model of an analysis results file (its released rows: terms,
estimates, rounded counts); ACRO 1.0.2's `results.json`, `config.json` and `checksums/` pointing at those
files; `profile.json`; `manifest.json` (every file with its SHA-256, the profile and its version, the
verdicts, who requested, who approved and when); and `SHA256SUMS` over everything.

Every export is recorded in the vault (`release_exports`), so the destruction certificate lists what left
and when.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cscvault.disclosure import release_checks as rc
from cscvault.disclosure.acro_format import CustomOutput, OutputEntry, write_results
from cscvault.disclosure.check import CheckedTable
from cscvault.disclosure.profiles import Profile, get_profile
from cscvault.disclosure.release import (
    EXPORT_ROLES,
    Release,
    ReleaseOutput,
    _load,
    _outputs,
    published_tables,
    verify_stored,
)
from cscvault.errors import DataError, StorageError, TamperedError, UsageError, VaultStateError
from cscvault.vault import Vault

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
MANIFEST_FORMAT = "cscvault-release-manifest"
MANIFEST_VERSION = 1
_MODEL_COLUMNS = ("analysis", "sample", "model")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _uid(name: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_") or "output"
    uid, i = base, 1
    while uid in used:
        i += 1
        uid = f"{base}_{i}"
    used.add(uid)
    return uid


def model_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """One model's released rows as a CSV (no index column); the columns in first-seen order."""
    columns: list[str] = list(_MODEL_COLUMNS)
    for row in rows:
        columns += [str(k) for k in row if str(k) not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def _rebuilt_tables(
    vault: Vault, rows: Sequence[tuple[ReleaseOutput, bytes, bytes]], profile: Profile
) -> dict[str, CheckedTable | None]:
    """The release's tables checked again, jointly and against the same earlier releases as at request."""
    used: list[str] = []
    for out, _, _ in rows:
        used += [str(r) for r in out.checks.get("earlier_releases", []) if str(r) not in used]
    published, _ = published_tables(vault, [(o.name, o.meta) for o, _, _ in rows], only=used)
    items = [rc.Requested(o.name, content, o.meta) for o, content, _ in rows]
    return {name: entry[0] for name, entry in rc.joint_tables(items, profile, published).items()}


def _acro_entries(
    release: Release, rows: Sequence[tuple[ReleaseOutput, bytes, bytes]], profile: Profile, vault: Vault
) -> list[OutputEntry]:
    """Rebuild the ACRO records from the stored request bytes; refuse if the rebuilt release differs."""
    entries: list[OutputEntry] = []
    used: set[str] = set()
    rebuilt = _rebuilt_tables(vault, rows, profile)
    for out, content, released in rows:
        command = f"cscvault release request ({release.release_id}: {out.name})"
        path = f"outputs/{out.name}"
        if out.kind == "table":
            table = rebuilt.get(out.name)
            if table is not None:
                rc.reapply_flags(table, out.checks.get("differencing", []))
                if rc.released_csv(table) != released:
                    raise TamperedError(f"release {release.release_id}: {out.name} no longer matches what was approved")
                entries.append(
                    OutputEntry(table, uid=_uid(out.name, used), command=command, file_name=path, content=released)
                )
                continue
        if out.kind == "results":
            document = json.loads(content.decode("utf-8"))
            released_rows = json.loads(released.decode("utf-8")).get("results", [])
            for key, check, _ in rc.model_checks(document, profile):
                uid = _uid("model_" + "_".join(key), used)
                mine = [r for r in released_rows if tuple(str(r.get(k)) for k in _MODEL_COLUMNS) == key]
                entries.append(
                    OutputEntry(check, uid=uid, command=command, file_name=f"models/{uid}.csv", content=model_csv(mine))
                )
            # The released results document itself: a custom entry, so ACRO tools list it for review too.
        reason = "; ".join(out.reasons)
        entries.append(
            OutputEntry(
                CustomOutput(Path(out.name), reason),
                uid=_uid(out.name, used),
                command=command,
                file_name=path,
                content=released,
            )
        )
    return entries


def _stored_rows(vault: Vault, release_id: str) -> list[tuple[ReleaseOutput, bytes, bytes]]:
    verify_stored(vault, release_id)
    outputs = _outputs(vault, release_id)
    blobs = {
        int(r[0]): (bytes(r[1]), bytes(r[2]))
        for r in vault.con.execute(
            "SELECT position, content, released FROM release_outputs WHERE release_id = ? AND released IS NOT NULL",
            [release_id],
        ).fetchall()
    }
    rows = []
    for out in outputs:
        if out.position not in blobs:
            raise VaultStateError(f"release {release_id}: {out.name} has no releasable version")
        content, released = blobs[out.position]
        if _sha256(released) != out.released_sha256 or _sha256(content) != out.sha256:
            raise TamperedError(f"release {release_id}: {out.name} failed its checksum")
        rows.append((out, content, released))
    return rows


def _prepare_dir(out_dir: Path) -> None:
    """OUT is created (owner-only, 0700) when missing; an existing non-folder is a usage error."""
    if out_dir.is_dir():
        return
    if out_dir.exists():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, mode=0o700)
        out_dir.chmod(0o700)  # mkdir's mode is masked by the umask
    except OSError as exc:
        raise StorageError(f"{out_dir}: cannot create the folder ({exc.strerror})") from None


def _manifest(release: Release, rows: Sequence[tuple[ReleaseOutput, bytes, bytes]], staging: Path, actor: str,
              when: dt.datetime) -> dict[str, Any]:  # fmt: skip
    outputs = {f"outputs/{o.name}" for o, _, _ in rows}
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "release_id": release.release_id,
        "why": release.why,
        "profile": {"name": release.profile, "version": release.profile_version},
        "verdict": release.verdict,
        "requested_by": release.requested_by,
        "requested_at": _iso(release.requested_at),
        "approved_by": release.decided_by,
        "decided_at": _iso(release.decided_at),
        "decision_note": release.decision_note,
        "exported_by": actor,
        "exported_at": _iso(when),
        "outputs": [
            {
                "file": f"outputs/{o.name}",
                "kind": o.kind,
                "sha256": o.released_sha256,
                "requested_sha256": o.sha256,
                "verdict": o.verdict,
                "reasons": list(o.reasons),
            }
            for o, _, _ in rows
        ],
        "files": [
            {"file": p.relative_to(staging).as_posix(), "sha256": _sha256(p.read_bytes())}
            for p in sorted(staging.rglob("*"))
            if p.is_file() and p.relative_to(staging).as_posix() not in outputs
        ],
    }


def export_release(vault: Vault, release_id: str, out_dir: Path) -> Path:
    """Write the bundle of an approved release to OUT_DIR/RELEASE_ID; returns the bundle folder."""
    vault.require_role(*EXPORT_ROLES)
    release = _load(vault, release_id)
    if release.state not in ("approved", "exported"):
        raise VaultStateError(f"release {release_id} is {release.state}; only an approved release can be exported")
    out_dir = Path(out_dir)
    bundle = out_dir / release_id
    if bundle.exists():
        raise UsageError(f"{bundle}: already exists")
    profile = get_profile(release.profile)
    if profile.version != release.profile_version:
        raise VaultStateError(
            f"release {release_id} was checked with {release.profile} {release.profile_version}; "
            f"this cscvault has version {profile.version}: request it again"
        )
    rows = _stored_rows(vault, release_id)
    entries = _acro_entries(release, rows, profile, vault)  # refuses a stored output that no longer rebuilds
    _prepare_dir(out_dir)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{release_id}.exporting-", dir=out_dir))
    except OSError as exc:
        raise StorageError(f"{out_dir}: cannot write the bundle ({exc.strerror})") from None
    try:
        write_results(entries, staging, profile)
        (staging / "profile.json").write_text(json.dumps(profile.as_dict(), indent=2) + "\n", encoding="utf-8")
        now = dt.datetime.now(dt.UTC)
        manifest = _manifest(release, rows, staging, vault.actor, now)
        manifest_bytes = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
        (staging / MANIFEST).write_bytes(manifest_bytes)
        sums = [
            f"{_sha256(p.read_bytes())}  {p.relative_to(staging).as_posix()}"
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        ]
        (staging / SUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
        left = [{"file": o["file"], "sha256": o["sha256"]} for o in manifest["outputs"]]
        with vault.transaction() as con:
            row = con.execute("SELECT count(*) FROM release_exports WHERE release_id = ?", [release_id]).fetchone()
            number = (int(row[0]) if row else 0) + 1
            con.execute(
                "INSERT INTO release_exports VALUES (?, ?, ?, ?, ?, ?, ?)",
                [release_id, number, now, vault.actor, str(bundle.resolve()), json.dumps(left),
                 _sha256(manifest_bytes)],
            )  # fmt: skip
            con.execute(
                "UPDATE releases SET state = 'exported', exports = exports + 1, exported_at = ?, exported_by = ? "
                "WHERE release_id = ?",
                [now, vault.actor, release_id],
            )
            vault.record("release.export", {"release": release_id}, {"files": len(rows)})
        # After the commit: a bundle never leaves without its record (a failed rename can be re-exported).
        staging.replace(bundle)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"{bundle}: cannot write the bundle ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return bundle


def verify_bundle(bundle: Path) -> dict[str, Any]:
    """Check a bundle against its manifest: every file present with its SHA-256, nothing unlisted.

    Returns the manifest; a missing, changed or extra file is a DataError naming it."""
    bundle = Path(bundle)
    path = bundle / MANIFEST
    if not path.is_file():
        raise UsageError(f"{bundle}: no {MANIFEST}; not a cscvault release bundle")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        listed = {e["file"]: e["sha256"] for e in [*manifest["outputs"], *manifest["files"]]}
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{path}: not a readable release manifest") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{path}: not a readable release manifest")
    present = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {MANIFEST, SUMS}
    for name in sorted(set(listed) | present):
        if name not in present:
            raise DataError(f"{bundle}: {name} is listed in the manifest but missing")
        if name not in listed:
            raise DataError(f"{bundle}: {name} is not listed in the manifest")
        if _sha256((bundle / name).read_bytes()) != listed[name]:
            raise DataError(f"{bundle}: {name} does not match its SHA-256 in the manifest")
    sums = bundle / SUMS
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if not (bundle / name).is_file() or _sha256((bundle / name).read_bytes()) != digest:
                raise DataError(f"{bundle}: {name} does not match {SUMS}")
    return dict(manifest)
