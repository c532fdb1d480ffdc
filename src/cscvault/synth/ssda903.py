"""SSDA903 (children looked after) CSV sets, one folder per LA and collection year, written as a stream.

Column names and order equal the public fixtures (shared/fixtures/csc-validator-be-903), which the
data-to-insight validator recognises by exact header. Dates are dd/mm/yyyy. Year differences: SEX 1/2
up to 2023/24 and M/F/U from 2024/25; the social worker episodes table from 2023/24.
A child is in a year's files when one of their episodes is open at some point of the year; a DEC after
31 March is blank (the episode was open on the reference date).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from cscvault.formats.ssda903 import TABLES
from cscvault.synth import codes
from cscvault.synth.cin_census import collection_years, year_label
from cscvault.synth.dates import NO_DATE, add_months, day, first_of_month, fmt
from cscvault.synth.dgp import Batch, Settings, age_years_at, batch_rng
from cscvault.synth.identifiers import BaitLog, postcodes, upns

ObjArray = npt.NDArray[np.object_]

# The tables synth writes, in its writing order; their columns come from the reader's declaration of the
# format (one source: `formats.ssda903.TABLES`). Synth writes no DoLO table.
WRITTEN_TABLES = (
    "header",
    "episodes",
    "uasc",
    "reviews",
    "missing",
    "oc2",
    "oc3",
    "ad1",
    "placed_for_adoption",
    "previous_permanence",
    "sw_episodes",
)
COLUMNS: dict[str, tuple[str, ...]] = {table: TABLES[table] for table in WRITTEN_TABLES}
SW_EPISODES_FROM = 2024  # collection 2023/24


def tables_for(ref_year: int) -> tuple[str, ...]:
    return tuple(t for t in COLUMNS if t != "sw_episodes" or ref_year >= SW_EPISODES_FROM)


def _d(x: int) -> str:
    return str(fmt(np.array([x]), "dmy")[0]) if x != NO_DATE else ""


class Ssda903Writer:
    def __init__(
        self, out_dir: Path, rel_root: Path, settings: Settings, la_index: int, with_identifiers: bool, bait: BaitLog
    ) -> None:
        self.s = settings
        self.dir = out_dir
        self.rel_root = rel_root
        self.with_identifiers = with_identifiers
        self.bait = bait
        self.la_index = la_index
        self.years = collection_years(settings)
        self.fh: dict[tuple[int, str], IO[str]] = {}
        self.w: dict[tuple[int, str], Any] = {}
        self.samples: dict[tuple[int, str], list[str]] = {}
        self._adopt: dict[int, int] = {}
        self._adopt_batch: Batch | None = None

    def _open(self) -> None:
        mess = not self.s.clean
        rng = batch_rng(self.s.seed, self.la_index, 0, 8)
        for y in self.years:
            folder = self.dir / year_label(y)
            folder.mkdir(parents=True, exist_ok=True)
            for t in tables_for(y):
                fh = (folder / f"{t}.csv").open("w", encoding="utf-8", newline="")
                # some LA exports start with a UTF-8 byte-order mark (the public sw_episodes sample does)
                if mess and (t == "sw_episodes" or rng.random() < 0.05):
                    fh.write("\ufeff")
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(COLUMNS[t])
                self.fh[(y, t)] = fh
                self.w[(y, t)] = w

    def add(self, b: Batch, child_ids: ObjArray) -> None:
        if not self.fh:
            self._open()
        rng = batch_rng(self.s.seed, b.la_index, b.batch_index, 9)
        ids = child_ids
        dob = b.dob if self.with_identifiers else first_of_month(b.dob)
        dob_s = fmt(dob, "dmy")
        upn = upns(rng, b.n, b.la.la.dfe_code) if self.with_identifiers else None
        areas = b.la.postcode_areas
        home = postcodes(rng, b.n, areas) if self.with_identifiers else None
        e = b
        start_s, end_s = fmt(e.e_start, "dmy"), fmt(e.e_end, "dmy")
        sw_ids = np.array([f"SW{int(x):06d}" for x in rng.integers(1, 400, b.n)], dtype=object)
        for y in self.years:
            y_start, y_end = day(dt.date(y - 1, 4, 1)), day(dt.date(y, 3, 31))
            sel = np.flatnonzero((e.e_start <= y_end) & ((e.e_end == NO_DATE) | (e.e_end >= y_start)))
            kids = np.unique(e.e_child[sel]) if sel.size else np.zeros(0, np.int64)
            age = age_years_at(b.dob, np.full(b.n, y_end, dtype=np.int64))
            w = self.w
            for ch in kids.tolist():
                sex = int(b.sex[ch])
                if y >= 2025:
                    sex_s = "M" if sex == 1 else ("F" if sex == 2 else "U")
                else:
                    sex_s = str(sex if sex in (1, 2) else 1)
                eth = "NOBT" if b.miss_ethnicity[ch] else codes.ETHNICITY_CODES[int(b.ethnicity[ch])]
                if upn is not None:
                    u = str(upn[ch])
                    self._sample(y, "header", u)
                    self._sample(y, "header_dob", str(dob_s[ch]))
                else:
                    u = "UN1" if age[ch] < 5 else "UN4"
                mother = "0" if sex == 2 and age[ch] >= 12 else ""
                w[(y, "header")].writerow((ids[ch], sex_s, dob_s[ch], eth, u, mother, ""))
                if b.uasc[ch]:
                    duc = _d(int(add_months(b.dob[ch : ch + 1], 216)[0]))
                    w[(y, "uasc")].writerow((ids[ch], sex_s, dob_s[ch], duc))
            for i in sel.tolist():
                ch = int(e.e_child[i])
                end = int(e.e_end[i])
                shown = end != NO_DATE and end <= y_end
                hp = pp = ""
                if home is not None:
                    hp = str(home[ch])
                    pp = str(postcodes(rng, 1, areas)[0])
                    self._sample(y, "episodes", hp)
                w[(y, "episodes")].writerow(
                    (
                        ids[ch],
                        start_s[i],
                        e.e_rne[i],
                        e.e_ls[i],
                        e.e_need[i],
                        e.e_place[i],
                        e.e_provider[i],
                        end_s[i] if shown else "",
                        e.e_rec[i] if shown else "",
                        e.e_rpc[i] if shown else "",
                        hp,
                        pp,
                        e.e_urn[i],
                    )
                )
            self._per_child_tables(b, y, y_start, y_end, kids, ids, dob_s, age, rng, sw_ids)

    def _per_child_tables(
        self,
        b: Batch,
        y: int,
        y_start: int,
        y_end: int,
        kids: npt.NDArray[np.int64],
        ids: ObjArray,
        dob_s: ObjArray,
        age: npt.NDArray[np.int64],
        rng: np.random.Generator,
        sw_ids: ObjArray,
    ) -> None:
        w = self.w
        for ch in kids.tolist():
            start = int(b.care_start[ch])
            end = int(b.care_end[ch])
            stop = min(y_end, end if end != NO_DATE else y_end)
            # reviews: 20 days after entry, 3 months later, then every 6 months
            rv = start + 20
            k = 0
            while rv <= stop:
                if rv >= y_start:
                    w[(y, "reviews")].writerow((ids[ch], dob_s[ch], _d(rv), codes.REVIEW_CODES[int(rng.integers(7))]))
                rv = int(add_months(np.array([rv]), 3 if k == 0 else 6)[0])
                k += 1
            if age[ch] >= 11 and rng.random() < 0.15:
                ms = int(rng.integers(max(start, y_start), max(max(start, y_start) + 1, stop)))
                w[(y, "missing")].writerow(
                    (ids[ch], dob_s[ch], "M" if rng.random() < 0.8 else "A", _d(ms), _d(ms + int(rng.integers(1, 6))))
                )
            if y_start <= start <= y_end:
                prev = "Z1" if rng.random() < 0.88 else str(rng.choice(["P1", "P2", "P3", "P4"]))
                w[(y, "previous_permanence")].writerow((ids[ch], dob_s[ch], prev, "", ""))
            if start <= y_end - 365 and (end == NO_DATE or end > y_end):
                sdq = str(int(rng.integers(0, 40))) if 4 <= age[ch] <= 16 else ""
                conv = str(int(rng.random() < 0.04)) if age[ch] >= 10 else ""
                subst = str(int(rng.random() < 0.05)) if age[ch] >= 10 else ""
                w[(y, "oc2")].writerow(
                    (
                        ids[ch],
                        dob_s[ch],
                        sdq,
                        "",
                        conv,
                        "1",
                        str(int(rng.random() < 0.9)),
                        str(int(rng.random() < 0.85)),
                        "1",
                        subst,
                        "",
                        "",
                    )
                )
            reason = str(b.care_reason_end[ch])
            if reason in codes.CEASE_ADOPTED and y_start <= end <= y_end:
                placed = self._adoption_placement(b, ch)
                w[(y, "ad1")].writerow(
                    (
                        ids[ch],
                        dob_s[ch],
                        _d(start + 120),
                        _d(placed - 30),
                        str(int(rng.random() < 0.2)),
                        str(1 + int(rng.random() < 0.7)),
                        str(rng.choice(["MF", "MM", "FF", "F1"])),
                        "L11",
                    )
                )
            placed = self._adoption_placement(b, ch)
            if placed != NO_DATE and y_start <= placed <= y_end:
                ceased = end if (end != NO_DATE and end <= y_end) else int(NO_DATE)
                w[(y, "placed_for_adoption")].writerow((ids[ch], dob_s[ch], _d(placed), _d(ceased), ""))
            if y >= SW_EPISODES_FROM:
                sw_start = max(start, y_start)
                w[(y, "sw_episodes")].writerow(
                    (
                        ids[ch],
                        dob_s[ch],
                        sw_ids[ch],
                        _d(sw_start),
                        _d(end) if end != NO_DATE and end <= y_end else "",
                        "",
                    )
                )
        # care leavers: the year of their 19th, 20th and 21st birthdays after leaving care at 18
        left = np.flatnonzero(np.isin(b.care_reason_end, [c for c, _ in codes.CEASE_AT_18]))
        for ch in left.tolist():
            bday = int(add_months(b.dob[ch : ch + 1], 12 * 19)[0])
            for extra in range(3):
                d = int(add_months(np.array([bday]), 12 * extra)[0])
                if y_start <= d <= y_end:
                    w[(y, "oc3")].writerow(
                        (
                            ids[ch],
                            dob_s[ch],
                            "YES" if rng.random() < 0.9 else "NO",
                            str(rng.choice(["F1", "P1", "F2", "G4", "G6"])),
                            str(rng.choice(["B1", "C1", "D1", "S1"])),
                        )
                    )

    def _adoption_placement(self, b: Batch, ch: int) -> int:
        if self._adopt_batch is not b:
            rows = np.flatnonzero(np.isin(b.e_place, ["A4", "A5"]))
            self._adopt = {int(b.e_child[i]): int(b.e_start[i]) for i in rows[::-1].tolist()}
            self._adopt_batch = b
        return self._adopt.get(ch, int(NO_DATE))

    def _sample(self, y: int, table: str, value: str) -> None:
        lst = self.samples.setdefault((y, table), [])
        if len(lst) < BaitLog.MAX_SAMPLES:
            lst.append(value)

    def close(self) -> list[Path]:
        paths = []
        mess = not self.s.clean
        rng = batch_rng(self.s.seed, self.la_index, 0, 10)
        for (y, t), fh in self.fh.items():
            fh.close()
            path = self.dir / year_label(y) / f"{t}.csv"
            paths.append(path)
            # one export in twenty lacks the final newline (the public DoLo sample does)
            if mess and rng.random() < 0.05:
                data = path.read_bytes()
                if data.endswith(b"\n"):
                    path.write_bytes(data[:-1])
        if self.with_identifiers:
            for (y, t), values in sorted(self.samples.items()):
                table, column, kind = {
                    "header": ("header", "UPN", "upn"),
                    "header_dob": ("header", "DOB", "date_of_birth"),
                    "episodes": ("episodes", "HOME_POST", "postcode"),
                }[t]
                rel = str((self.dir / year_label(y) / f"{table}.csv").relative_to(self.rel_root))
                self.bait.extra_column(rel, column, kind, np.array(values, dtype=object))
        return paths
