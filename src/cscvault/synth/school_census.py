"""School attendance per term, FSM and pupil premium of the synthetic children, and the school census CSV.

Absence is collected one term in arrears (spring census = autumn term, summer census = spring term,
autumn census = summer term). Files follow the LIIA school-census naming by census term
(`<calendar year>_<term>_pupilonroll.csv`) and column names of the `pupilonroll` table; the pupil is
matched to the LA's child id (`lachildid`), as an LA-matched extract for the trial would be.
Termly absence totals are given as in census files up to autumn 2024; the sex column is `gender` before
the autumn 2023 census and `sex` from then on. Only censuses held inside the study's data window are
written (an extract for the study): the autumn term of the window's last year is collected by the next
January's census, after the window, so its absence is not delivered.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cscvault.synth.dates import NO_DATE, IntArray, day, first_of_month, fmt
from cscvault.synth.dgp import Batch, Settings, age_years_at, batch_rng
from cscvault.synth.identifiers import BaitLog, names, upns

if TYPE_CHECKING:
    from cscvault.study.model import Study

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Term:
    label: str  # "Autumn term 2020" (as DR3 headers name it)
    start: int
    end: int
    sessions: int
    census: str  # the census that collects it, e.g. "2021_spring"
    academic_year: int  # calendar year the academic year starts


def terms(study_start: dt.date, study_end: dt.date) -> list[Term]:
    out = []
    for y in range(study_start.year - 1, study_end.year + 1):
        out.append(Term(f"Autumn term {y}", day(dt.date(y, 9, 1)), day(dt.date(y, 12, 20)), 142, f"{y + 1}_spring", y))
        out.append(
            Term(
                f"Spring term {y + 1}", day(dt.date(y + 1, 1, 5)), day(dt.date(y + 1, 3, 31)), 118, f"{y + 1}_summer", y
            )
        )
        out.append(
            Term(
                f"Summer term {y + 1}",
                day(dt.date(y + 1, 4, 15)),
                day(dt.date(y + 1, 7, 22)),
                128,
                f"{y + 1}_autumn",
                y,
            )
        )
    lo, hi = day(study_start), day(study_end)
    return [t for t in out if t.start >= lo and t.end <= hi]


CENSUS_MONTH = {"spring": 1, "summer": 5, "autumn": 10}


def census_date(census: str) -> dt.date:
    """First day of a census's month ('2021_spring' -> 2021-01-01), the date a census row carries."""
    year, term = census.split("_")
    return dt.date(int(year), CENSUS_MONTH[term], 1)


def delivered_terms(ts: list[Term], study: Study) -> set[int]:
    """Indices of the terms whose collecting census lies inside the study's data window."""
    w = study.windows
    return {k for k, t in enumerate(ts) if w.data_start <= census_date(t.census) <= w.data_end}


def term_label(t: Term) -> str:
    """The attendance term as the vault labels it: 'Autumn term 2020' -> '2020-autumn'."""
    name, _, year = t.label.split(" ")
    return f"{year}-{name.lower()}"


@dataclass
class SchoolData:
    """Per (child, term) attendance rows and per (child, January census) FSM / pupil premium."""

    terms: list[Term]
    a_child: IntArray
    a_term: IntArray
    possible: IntArray
    authorised: IntArray
    unauthorised: IntArray
    census_years: list[int]
    fsm: npt.NDArray[np.bool_]  # [child, census year]
    ever_fsm: npt.NDArray[np.bool_]
    pupil_premium: npt.NDArray[np.bool_]
    on_roll: npt.NDArray[np.bool_]


def school_data(b: Batch, s: Settings) -> SchoolData:
    rng = batch_rng(s.seed, b.la_index, b.batch_index, 3)
    c = s.common
    ts = terms(s.study.windows.data_start, s.study.windows.data_end)
    n = b.n
    first_ref = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_ref, b.r_child, b.r_date)
    propensity_u = c.unauthorised_absence_share * np.exp(0.5 * b.risk + 0.5 * rng.standard_normal(n) - 0.25)
    propensity_a = c.authorised_absence_share * np.exp(0.3 * rng.standard_normal(n))
    treated_refs = b.r_date[b.r_treated]
    treated_child = b.r_child[b.r_treated]
    rows_child, rows_term, poss, auth, unauth = [], [], [], [], []
    for k, t in enumerate(ts):
        aug31 = np.full(n, day(dt.date(t.academic_year, 8, 31)), dtype=np.int64)
        age = age_years_at(b.dob, aug31)
        # children appear from a year before their first referral while of compulsory school age
        who = np.flatnonzero((age >= 4) & (age <= 15) & (first_ref - 365 <= t.end))
        if who.size == 0:
            continue
        possible = t.sessions - rng.integers(0, 8, who.size)
        # the intervention lowers unauthorised absence in the three terms after a treated referral
        after = np.zeros(n, dtype=np.bool_)
        recent = (treated_refs <= t.start) & (treated_refs >= t.start - 365)
        after[treated_child[recent]] = True
        rate_u = np.minimum(0.9, propensity_u[who] * np.where(after[who], c.unauthorised_absence_ratio, 1.0))
        rate_a = np.minimum(0.5, propensity_a[who])
        unauthorised = rng.binomial(possible, rate_u)
        authorised = rng.binomial(possible - unauthorised, rate_a)
        rows_child.append(who)
        rows_term.append(np.full(who.size, k))
        poss.append(possible)
        auth.append(authorised)
        unauth.append(unauthorised)
    years = list(range(s.study.windows.data_start.year, s.study.windows.data_end.year + 1))
    base = rng.random(n)
    p_fsm = 1.0 / (
        1.0 + np.exp(-(np.log(c.fsm_share_children_in_need / (1 - c.fsm_share_children_in_need)) + 0.6 * b.risk))
    )
    fsm = np.zeros((n, len(years)), dtype=np.bool_)
    on_roll = np.zeros((n, len(years)), dtype=np.bool_)
    for j, y in enumerate(years):
        census = np.full(n, day(dt.date(y, 1, 16)), dtype=np.int64)
        age = age_years_at(b.dob, census)
        on_roll[:, j] = (age >= 4) & (age <= 16)
        fsm[:, j] = on_roll[:, j] & ((base + 0.12 * rng.standard_normal(n)) < p_fsm)
    ever = np.zeros_like(fsm)
    for j in range(len(years)):
        ever[:, j] = fsm[:, max(0, j - 5) : j + 1].any(axis=1)
    looked_after = np.zeros_like(fsm)
    for j, y in enumerate(years):
        looked_after[:, j] = (b.care_start != NO_DATE) & (b.care_start <= day(dt.date(y, 1, 16)))
    pp = on_roll & (ever | looked_after)

    def cat(parts: list[IntArray]) -> IntArray:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    return SchoolData(
        ts, cat(rows_child), cat(rows_term), cat(poss), cat(auth), cat(unauth), years, fsm, ever, pp, on_roll
    )


HEADER_BASE = (
    "lachildid",
    "pupilonrolltableid",
    "NativeId",
    "dob",
    "{sex}",
    "termlysessionspossible",
    "termlysessionsauthorised",
    "termlysessionsunauthorised",
    "fsmeligible",
    "everfsm6",
    "pupilpremium",
)
BAIT_COLUMNS = ("upn", "surname", "forename")


def census_sex_column(census: str) -> str:
    year, term = census.split("_")
    return "sex" if int(year) > 2023 or (int(year) == 2023 and term == "autumn") else "gender"


class SchoolCensusWriter:
    """One CSV per LA and census term, appended batch by batch."""

    def __init__(
        self, out_dir: Path, rel_root: Path, settings: Settings, la_key: str, with_identifiers: bool, bait: BaitLog
    ) -> None:
        self.dir = out_dir
        self.rel_root = rel_root
        self.s = settings
        self.with_identifiers = with_identifiers
        self.bait = bait
        self.files: dict[str, tuple[object, csv.writer]] = {}  # type: ignore[valid-type]
        self.paths: list[Path] = []
        self.row_ids = 0
        self.la_key = la_key
        self._bait_vals: dict[str, dict[str, list[str]]] = {}

    def _writer(self, census: str):  # type: ignore[no-untyped-def]
        if census not in self.files:
            self.dir.mkdir(parents=True, exist_ok=True)
            path = self.dir / f"{census}_pupilonroll.csv"
            fh = path.open("w", newline="", encoding="utf-8")
            w = csv.writer(fh, lineterminator="\n")
            header = [h.format(sex=census_sex_column(census)) for h in HEADER_BASE]
            if self.with_identifiers:
                header += list(BAIT_COLUMNS)
            w.writerow(header)
            self.files[census] = (fh, w)
            self.paths.append(path)
        return self.files[census][1]

    def add(self, b: Batch, sd: SchoolData, child_ids: npt.NDArray[np.object_]) -> None:
        rng = batch_rng(self.s.seed, b.la_index, b.batch_index, 5)
        dob_style = "school"
        dob = b.dob if self.with_identifiers else first_of_month(b.dob)
        dob_txt = fmt(dob, dob_style)
        sex_old = np.where(b.sex == 1, "M", np.where(b.sex == 2, "F", ""))
        if self.with_identifiers:
            fn, sn = names(rng, b.n)
            upn = upns(rng, b.n, b.la.la.dfe_code)
        year_index = {y: j for j, y in enumerate(sd.census_years)}
        yn = np.array(["N", "Y"], dtype=object)
        delivered = delivered_terms(sd.terms, self.s.study)
        for k, t in enumerate(sd.terms):
            rows = np.flatnonzero(sd.a_term == k)
            if rows.size == 0 or k not in delivered:
                continue
            ch = sd.a_child[rows]
            w = self._writer(t.census)
            cy = int(t.census.split("_")[0])
            jy = year_index.get(min(cy, sd.census_years[-1]), len(sd.census_years) - 1)
            row_ids = [f"{self.la_key[:3].upper()}{self.row_ids + i + 1:08d}" for i in range(rows.size)]
            self.row_ids += rows.size
            cols = [
                child_ids[ch],
                row_ids,
                [f"SCH{1 + c % 40}" for c in ch.tolist()],
                dob_txt[ch],
                sex_old[ch],
                sd.possible[rows].tolist(),
                sd.authorised[rows].tolist(),
                sd.unauthorised[rows].tolist(),
                yn[sd.fsm[ch, jy].astype(np.int64)],
                yn[sd.ever_fsm[ch, jy].astype(np.int64)],
                yn[sd.pupil_premium[ch, jy].astype(np.int64)],
            ]
            if self.with_identifiers:
                cols += [upn[ch], sn[ch], fn[ch]]
                vals = self._bait_vals.setdefault(t.census, {})
                room = BaitLog.MAX_SAMPLES - len(vals.get("upn", []))
                if room > 0:
                    vals.setdefault("upn", []).extend(str(v) for v in upn[ch[:room]].tolist())
                    vals.setdefault("surname", []).extend(str(v) for v in sn[ch[:room]].tolist())
                    vals.setdefault("dob", []).extend(str(v) for v in dob_txt[ch[:room]].tolist())
            w.writerows(zip(*cols, strict=True))

    def close(self) -> list[Path]:
        for census, (fh, _w) in self.files.items():
            fh.close()  # type: ignore[attr-defined]
            if self.with_identifiers:
                rel = str((self.dir / f"{census}_pupilonroll.csv").relative_to(self.rel_root))
                vals = self._bait_vals.get(census, {})
                for col, kind in (("upn", "upn"), ("surname", "name"), ("dob", "date_of_birth")):
                    self.bait.extra_column(rel, col, kind, np.array(vals.get(col, []), dtype=object))
        return self.paths
