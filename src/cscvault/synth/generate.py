"""`generate()`: play the study's local authorities and write their returns, truth.json beside them.

Layout of OUT:
    truth.json                 seed, true parameters, true sample counts (never inside returns/)
    truth_sample.csv           the true primary sample, one row per child (true values)
    bait_manifest.json         with identifiers only: which files/columns carry identifier bait
    returns/<la>/dr/           DR1, DR2, DR3 workbooks
    returns/<la>/cin/          CIN census XML per collection year
    returns/<la>/ssda903/<year>/   SSDA903 CSV set per collection year
    returns/<la>/school_census/    attendance CSV per census term
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cscvault.errors import UsageError
from cscvault.study import Study, load_study
from cscvault.synth import dgp, mess
from cscvault.synth.cin_census import CinCensusWriter
from cscvault.synth.dates import day
from cscvault.synth.dr_returns import Dr1Accumulator, Dr2Writer, Dr3Writer, write_dr1
from cscvault.synth.identifiers import BaitLog
from cscvault.synth.rates import Rates, load_rates
from cscvault.synth.school_census import SchoolCensusWriter, school_data
from cscvault.synth.ssda903 import Ssda903Writer
from cscvault.synth.truth import TruthAccumulator, TruthSampleWriter, build_truth, write_truth

FORMATS = ("dr", "cin", "903", "school")
RETURNS_DIR = "returns"
TRUTH_FILE = "truth.json"
TRUTH_SAMPLE_FILE = "truth_sample.csv"
BAIT_FILE = "bait_manifest.json"
MAX_CHILDREN = 20_000_000
MAX_LA_SPREAD = 3.0  # beyond three times the real LA differences, base rates leave plausible ranges

Progress = Callable[[int, int, str], None]  # (batches done, batches total, what)


@dataclass(frozen=True)
class SynthSummary:
    out_dir: Path
    returns_dir: Path
    truth_path: Path
    bait_manifest: Path | None
    seed: int
    children: int
    effect_or: float
    formats: tuple[str, ...]
    clean: bool
    with_identifiers: bool
    files: tuple[Path, ...]
    children_per_la: dict[str, int] = field(default_factory=dict)
    sample_children: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "out_dir": str(self.out_dir),
            "returns_dir": str(self.returns_dir),
            "truth": str(self.truth_path),
            "bait_manifest": str(self.bait_manifest) if self.bait_manifest else None,
            "seed": self.seed,
            "children": self.children,
            "effect_or": self.effect_or,
            "formats": list(self.formats),
            "clean": self.clean,
            "with_identifiers": self.with_identifiers,
            "files": len(self.files),
            "children_per_la": self.children_per_la,
            "sample_children": self.sample_children,
            "seconds": round(self.seconds, 2),
        }


def _years(study: Study) -> float:
    return (day(study.windows.data_end) - day(study.windows.data_start) + 1) / 365.25


def default_children(study: Study | None = None) -> int:
    """All-age children the base rates imply over the data window (the real sizes)."""
    st = study or load_study()
    rates = load_rates(st)
    return sum(_default_per_la(st, rates).values())


def _default_per_la(study: Study, rates: Rates) -> dict[str, int]:
    years = _years(study)
    mult = rates.common.all_age_multiplier
    return {la.la.ons_code: round(la.children_0_12_per_year * years * mult / dgp.SAMPLE_INFLATION) for la in rates.las}


def _split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` children over LAs in proportion to their real sizes (largest remainder)."""
    whole = sum(weights.values())
    raw = {k: total * w / whole for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (formats.split(",") if isinstance(formats, str) else formats)]
    items = [f for f in items if f]
    bad = [f for f in items if f not in FORMATS]
    if bad:
        raise UsageError(f"synth: unknown format '{bad[0]}' (choose from {', '.join(FORMATS)})")
    return tuple(f for f in FORMATS if f in items)


def _prepare(out_dir: Path) -> None:
    """Create OUT, or clear an earlier synth run in it; refuse a directory holding anything else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"synth: output path {out_dir} exists and is not a directory")
    if out_dir.exists():
        ours = {RETURNS_DIR, TRUTH_FILE, TRUTH_SAMPLE_FILE, BAIT_FILE}
        present = {p.name for p in out_dir.iterdir()}
        if present - ours:
            raise UsageError(f"synth: output directory {out_dir} is not empty and was not written by synth")
        truth = out_dir / TRUTH_FILE
        if present and truth.exists():
            try:
                earlier = json.loads(truth.read_text(encoding="utf-8")).get("generator")
            except (OSError, ValueError):
                earlier = None
            if earlier != "cscvault.synth":
                raise UsageError(f"synth: {truth} was not written by synth; choose another output directory")
        elif present:
            raise UsageError(f"synth: output directory {out_dir} is not empty and was not written by synth")
        if (out_dir / RETURNS_DIR).exists():
            shutil.rmtree(out_dir / RETURNS_DIR)
        for name in (TRUTH_FILE, TRUTH_SAMPLE_FILE, BAIT_FILE):
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def generate(
    out_dir: Path | str,
    *,
    seed: int = 1,
    children: int | None = None,
    effect_or: float = 0.85,
    la_spread: float = 1.0,
    formats: str | Iterable[str] = FORMATS,
    clean: bool = False,
    with_identifiers: bool = False,
    study: Study | None = None,
    progress: Progress | None = None,
) -> SynthSummary:
    """Generate synthetic returns of every LA of `study` into `out_dir`; see the module docstring."""
    t0 = time.perf_counter()
    fmts = parse_formats(formats)
    if not (0 < effect_or < 100):
        raise UsageError("synth: --effect-or must be a positive odds ratio below 100")
    if not (0 <= la_spread <= MAX_LA_SPREAD):
        raise UsageError(f"synth: --la-spread must be between 0 and {MAX_LA_SPREAD:g}")
    if seed < 0 or seed >= 2**63:
        raise UsageError("synth: --seed must be a non-negative integer below 2**63")
    st = study or load_study()
    rates = load_rates(st)
    base = _default_per_la(st, rates)
    total = sum(base.values()) if children is None else int(children)
    if total < len(rates.las) or total > MAX_CHILDREN:
        raise UsageError(f"synth: --children must be between {len(rates.las)} and {MAX_CHILDREN}")
    per_la = _split(total, base)
    scale = total / sum(base.values())
    out = Path(out_dir)
    _prepare(out)
    returns = out / RETURNS_DIR
    settings = dgp.calibrate(st, rates.common, rates.las, seed, effect_or, clean, la_spread)
    truth_acc = TruthAccumulator(st)
    sample_writer = TruthSampleWriter(out / TRUTH_SAMPLE_FILE)
    bait = BaitLog()
    files: list[Path] = []
    fsm_missing: dict[str, float] = {}
    mess_log: dict[str, dict[str, object]] = {}
    plans = {la.la.ons_code: dgp.batch_plan(per_la[la.la.ons_code]) for la in rates.las}
    n_batches = sum(len(p) for p in plans.values())
    done = 0
    for la_index, la in enumerate(rates.las):
        la_dir = returns / la.key
        dr = cin = s903 = school = None
        dr1 = None
        dr3 = None
        if "dr" in fmts:
            dr = Dr2Writer(la_dir / "dr", returns, settings, la, la_index, with_identifiers, bait)
            dr3 = Dr3Writer(la_dir / "dr", settings, la, la_index)
            dr1 = Dr1Accumulator(settings)
        if "cin" in fmts:
            cin = CinCensusWriter(la_dir / "cin", returns, settings, la.key, la_index, with_identifiers, bait)
        if "903" in fmts:
            s903 = Ssda903Writer(la_dir / "ssda903", returns, settings, la_index, with_identifiers, bait)
        if "school" in fmts:
            school = SchoolCensusWriter(la_dir / "school_census", returns, settings, la.key, with_identifiers, bait)
        reused = 0
        for batch_index, (size, first) in enumerate(plans[la.la.ons_code]):
            b = dgp.simulate_batch(settings, la, la_index, batch_index, size, first)
            truth_acc.add(b)
            sample_writer.add(b, st)
            ids = b.child_ids()
            if dr is not None and dr1 is not None and dr3 is not None:
                dr_ids = ids
                if not clean:
                    dr_ids, k = mess.reused_ids(dgp.batch_rng(seed, la_index, batch_index, 4), ids)
                    reused += k
                sd = school_data(b, settings)
                dr1.add(b)
                dr.add(b, dr_ids)
                dr3.add(b, dr_ids, sd)
            if cin is not None:
                cin.add(b, ids)
            if s903 is not None:
                s903.add(b, ids)
            if school is not None:
                school.add(b, school_data(b, settings), ids)
            done += 1
            if progress is not None:
                progress(done, n_batches, la.la.name)
        if dr is not None and dr1 is not None and dr3 is not None:
            files += dr.close() + dr3.close()
            paths, share = write_dr1(la_dir / "dr", settings, la, la_index, dr1, scale)
            files += paths
            fsm_missing[la.la.ons_code] = share
        for w in (cin, s903, school):
            if w is not None:
                files += w.close()
        mess_log[la.la.ons_code] = {
            "quirks": {} if clean else {k: list(v) for k, v in la.quirks.items()},
            "reused_child_ids_in_dr_returns": reused,
        }
    sample_writer.close()
    rel_files = [str(p.relative_to(out)) for p in files]
    truth = build_truth(
        settings,
        truth_acc,
        children_requested=total,
        children_per_la=per_la,
        formats=fmts,
        files=rel_files,
        dr1_fsm_missing_share=fsm_missing,
    )
    truth["returns_dir"] = RETURNS_DIR
    truth["mess"] = mess_log
    truth["with_identifiers"] = with_identifiers
    truth["truth_sample"] = TRUTH_SAMPLE_FILE
    truth_path = out / TRUTH_FILE
    write_truth(truth_path, truth)
    bait_path = None
    if with_identifiers:
        bait_path = out / BAIT_FILE
        bait_path.write_text(
            json.dumps({"generator": "cscvault.synth", "seed": seed, "entries": bait.entries}, indent=2, sort_keys=True)
            + "\n",
            encoding="utf-8",
        )
    return SynthSummary(
        out_dir=out,
        returns_dir=returns,
        truth_path=truth_path,
        bait_manifest=bait_path,
        seed=seed,
        children=total,
        effect_or=effect_or,
        formats=fmts,
        clean=clean,
        with_identifiers=with_identifiers,
        files=tuple(sorted(files)),
        children_per_la={la.la.name: per_la[la.la.ons_code] for la in rates.las},
        sample_children=int(truth["totals"]["sample_children"]),
        seconds=time.perf_counter() - t0,
    )
