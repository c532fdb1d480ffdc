"""Trial data returns DR1 (LA monthly aggregates), DR2 (child-level referrals) and DR3 (outcomes) as .xlsx.

Layouts follow the real templates (shared/research/sfpc_pipeline.md s.2): file names
`<la>_dr<k>_<mon><yy>.xlsx`; DR1 sheet "DR1 - Data - aggregate level" with the header on row 1; DR2 sheet
"DR2 - Data - sample pop" with the header on row 4; DR3 sheets whose names Excel truncated to 31
characters, headers on row 5 or 6. The returns overlap in time, as the real ones do. Per-LA quirks
(header offsets, Yes/No factor columns, bullet labels, mixed dates...) are applied unless `clean`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cscvault.synth import codes, mess
from cscvault.synth.dates import NO_DATE, IntArray, day, excel_serial, first_of_month, fmt, month_index
from cscvault.synth.dgp import Batch, Settings, age_years_at, batch_rng
from cscvault.synth.identifiers import BaitLog, addresses, names, nhs_numbers, postcodes, upns
from cscvault.synth.rates import LARates
from cscvault.synth.school_census import SchoolData
from cscvault.synth.xlsx import Decimal, Sheet, Workbook

ObjArray = npt.NDArray[np.object_]
D = dt.date


@dataclass(frozen=True)
class ReturnWindow:
    name: str
    start: D
    end: D


# The trial's return schedule (template facts, not LA facts).
DR1_START = D(2019, 10, 1)
DR1_RETURNS = (
    ReturnWindow("nov20", DR1_START, D(2020, 10, 31)),
    ReturnWindow("apr21", DR1_START, D(2021, 3, 31)),
    ReturnWindow("nov21", DR1_START, D(2021, 10, 31)),
    ReturnWindow("apr22", DR1_START, D(2022, 3, 31)),
    ReturnWindow("nov22", DR1_START, D(2022, 10, 31)),
    ReturnWindow("apr23", DR1_START, D(2023, 3, 31)),
)
DR2_RETURNS = (
    ReturnWindow("nov20", D(2019, 10, 1), D(2020, 10, 31)),
    ReturnWindow("nov21", D(2020, 9, 1), D(2021, 10, 31)),
    ReturnWindow("nov22", D(2021, 9, 1), D(2022, 11, 30)),
    ReturnWindow("apr23", D(2022, 4, 1), D(2023, 3, 31)),
)
DR3_COHORT = (D(2020, 3, 1), D(2022, 11, 30))
DR3_RETURNS = (
    ReturnWindow("nov22", D(2020, 4, 1), D(2022, 10, 31)),
    ReturnWindow("jul24", D(2020, 3, 1), D(2024, 5, 30)),
)

DR1_SHEET = "DR1 - Data - aggregate level"
DR1_COLUMNS = (
    "Month",
    "Number of assessments completed (by CSC)",
    "Proportion of children / young people eligible and claiming for Free School Meals for all school-age "
    "children and young people in the LA, out of all pupils.",
    "CLA rate per 10,000 children",
    "Number of children looked after at the end of the  month in the LA",
    "Number of children who newly became looked after this month in the LA",
    "Number of CIN plans that started this month in the LA",
    "Number of open CIN cases this month in the LA",
    "Number of CPPs that started this month in the LA",
    "Number of open CPPs this month in the LA",
    "Number of new referrals this month in the LA",
)
DR1_EXTRA = ("Average number of cases per social worker (FTE)", "Turnover rate of case-holding staff")

DR2_SHEET = "DR2 - Data - sample pop"
DR2_COLUMNS = (
    "Child ID",
    "Referral ID (or Case ID)",
    "Referral Date",
    "Referral No further action",
    "Assessment actual start date",
    "Outcome of Single Assessment",
    "Factors identified at the end of assessment",
    "Number of previous child protection plans",
    "Gender",
    "Year and month of birth of the child",
    "Ethnicity",
    "Disabled status",
    "Unaccompanied Asylum Seeker",
)
DR2_BAIT_COLUMNS = (
    ("Child's name", "name"),
    ("Home address", "address"),
    ("Postcode", "postcode"),
    ("UPN", "upn"),
    ("NHS number", "nhs_number"),
    ("Date of birth", "date_of_birth"),
)
FACTOR_YES_NO_PREFIX = "Factors identified at the end of assessment "

DR3_SHEETS = {
    "cla": "Data - CLA start (Primary Outco",
    "cpp": "Data - Child protection plans (",
    "proc": "Data - Care proceedings (Second",
    "school": "Data - school attendance",
}
DR3_CLA_COLUMNS = ("Child ID", "Start date of CLA (Period of care start date)")
DR3_CPP_COLUMNS = ("Child ID", "CPP Start Date", "CPP End Date")
DR3_PROC_COLUMNS = (
    "Child ID",
    "Start date of pre-proceedings (date of pre-proceedings meeting)",
    "Start date of care proceedings",
)
FSM_COLUMN = "Free school meal eligibility - ever FSM"
PP_COLUMN = "Pupil Premium eligibility (for Reception, Year 1 and Year 2)"

GENDER_LABELS = {1: "Male", 2: "Female", 9: "Indeterminate"}
GENDER_OPTIONS = ("Male", "Female", "Unborn", "Indeterminate", "Not stated/recorded (or unborn)")


def _title_rows(sheet: Sheet, title: str, la: LARates, n: int) -> None:
    sheet.write_row([title])
    sheet.write_row([f"Local authority: {la.la.name}"])
    sheet.skip(n - 2)


def _file_prefix(la: LARates, clean: bool, return_name: str) -> str:
    if not clean and return_name == "jul24" and "file_prefix" in la.quirks:
        return la.quirks["file_prefix"][0]
    return la.key


# --- DR2 ----------------------------------------------------------------------------------------------


class Dr2Writer:
    def __init__(
        self,
        out_dir: Path,
        rel_root: Path,
        s: Settings,
        la: LARates,
        la_index: int,
        with_identifiers: bool,
        bait: BaitLog,
    ) -> None:
        self.s, self.la, self.la_index = s, la, la_index
        self.dir, self.rel_root = out_dir, rel_root
        self.with_identifiers, self.bait = with_identifiers, bait
        self.books: dict[str, tuple[Workbook, Sheet, list[str]]] = {}
        self.hidden: dict[tuple[str, str, str], tuple[list[int], list[str]]] = {}
        self.extra_samples: dict[tuple[str, str], list[str]] = {}
        self.styles: dict[str, str] = {}

    def _messy(self, quirk: str, ret: str) -> bool:
        return not self.s.clean and self.la.quirk(quirk, ret)

    def _open(self, ret: ReturnWindow) -> tuple[Workbook, Sheet, list[str]]:
        wb = Workbook(self.dir / f"{self.la.key}_dr2_{ret.name}.xlsx")
        guide = wb.sheet("Guidance")
        guide.write_row(["Data Return 2: child-level referrals of the sample population"])
        guide.write_row([f"Referrals received {ret.start.isoformat()} to {ret.end.isoformat()}"])
        if self._messy("dr2_sheet_dr2_row1", ret.name):
            sheet = wb.sheet("DR2")
        else:
            sheet = wb.sheet(DR2_SHEET)
            _title_rows(sheet, "DR2 - Data - sample pop", self.la, 3)
        cols = list(DR2_COLUMNS)
        if self._messy("dr2_factor_yes_no_columns", ret.name):
            i = cols.index("Factors identified at the end of assessment")
            cols[i : i + 1] = [FACTOR_YES_NO_PREFIX + c for c in codes.PARENTAL_FACTORS]
        if self._messy("dr2_dob_split", ret.name):
            cols.insert(cols.index("Ethnicity") + 1, "Ethnicity_2")
        if self.with_identifiers and ret.name == DR2_RETURNS[0].name:
            cols += [c for c, _k in DR2_BAIT_COLUMNS]
        sheet.write_row(cols)
        rng = batch_rng(self.s.seed, self.la_index, 0, 11 + DR2_RETURNS.index(ret))
        self.styles[ret.name] = str(rng.choice(["date", "my", "my_dash"])) if not self.s.clean else "date"
        return wb, sheet, cols

    def add(self, b: Batch, ids: ObjArray) -> None:
        for k, ret in enumerate(DR2_RETURNS):
            if ret.name not in self.books:
                self.books[ret.name] = self._open(ret)
            self._add_rows(b, ids, ret, k)

    def _add_rows(self, b: Batch, ids: ObjArray, ret: ReturnWindow, k: int) -> None:
        _wb, sheet, cols = self.books[ret.name]
        rng = batch_rng(self.s.seed, b.la_index, b.batch_index, 20 + k)
        lo, hi = day(ret.start), day(ret.end)
        rows = np.flatnonzero((b.r_date >= lo) & (b.r_date <= hi))
        if rows.size == 0:
            return
        messy = not self.s.clean
        q = self.la.quirk
        ch = b.r_child[rows]
        n = rows.size
        data: dict[str, ObjArray] = {}
        data["Child ID"] = ids[ch]
        data["Referral ID (or Case ID)"] = b.referral_ids()[rows]
        ref = b.r_date[rows]
        asmt = np.where(b.r_asmt_start[rows] <= hi, b.r_asmt_start[rows], NO_DATE)
        if messy and q("dr2_mixed_dates", ret.name):
            data["Referral Date"] = mess.mixed_dates(rng, ref)
            data["Assessment actual start date"] = mess.mixed_dates(rng, asmt)
        else:
            data["Referral Date"] = mess.excel_dates(ref)
            data["Assessment actual start date"] = mess.excel_dates(asmt)
        if messy and q("dr2_missing_referral_dates", ret.name):
            data["Referral Date"][rng.random(n) < mess.MISSING_REFERRAL_DATE_RATE] = None
        nfa = np.where(b.r_nfa[rows], 1, 0).astype(object)
        if messy and q("dr2_multivalue_nfa", ret.name):
            nfa[rng.random(n) < mess.MULTIVALUE_RATE] = "#MULTIVALUE"
        data["Referral No further action"] = nfa
        authorised = (b.r_asmt_auth[rows] != NO_DATE) & (b.r_asmt_auth[rows] <= hi)
        data["Outcome of Single Assessment"] = np.where(
            authorised, np.where(b.r_further[rows], "Yes", "No"), ""
        ).astype(object)
        masks = np.where(authorised, b.r_factors[rows], 0)
        if FACTOR_YES_NO_PREFIX + "1B" in cols:
            for code in codes.PARENTAL_FACTORS:
                bit = 1 << codes.FACTOR_CODES.index(code)
                data[FACTOR_YES_NO_PREFIX + code] = np.where(
                    authorised, np.where((masks & bit) != 0, "Yes", "No"), ""
                ).astype(object)
        else:
            style = "words" if messy and q("dr2_factor_words", ret.name) else "codes"
            text = mess.factor_text(rng, masks, style, messy)
            text[authorised & (masks == 0)] = codes.FACTOR_WORDS["21"] if style == "words" else codes.NO_FACTORS_CODE
            data["Factors identified at the end of assessment"] = text
        prev = b.r_prev_cpp[rows].astype(object)
        if messy:
            odd = rng.random(n) < mess.TEXT_IN_NUMERIC_RATE
            prev[odd] = np.where(b.r_prev_cpp[rows][odd] == 0, "None", "Unknown")
        data["Number of previous child protection plans"] = prev
        age = age_years_at(b.dob[ch], ref)
        unborn = age == -1
        gender = np.array([GENDER_LABELS.get(int(x), "") for x in b.sex[ch].tolist()], dtype=object)
        miss_g = b.miss_gender[ch]
        gender[miss_g] = np.where(unborn[miss_g], "Unborn", "Not stated/recorded (or unborn)")
        dob = first_of_month(b.dob[ch])
        style = self.styles[ret.name]
        dob_cell = mess.excel_dates(dob) if style == "date" else fmt(dob, style)
        dob_cell[b.miss_dob[ch]] = None
        if messy:
            placeholder = unborn & (rng.random(n) < mess.PLACEHOLDER_DOB_RATE)
            dob_cell[placeholder] = "01/1900"
        eth = np.array(codes.ETHNICITY_CODES, dtype=object)[b.ethnicity[ch]]
        miss_e = b.miss_ethnicity[ch]
        eth[miss_e] = (
            np.array(["NOBT", "", "REFU", "Not Recorded"], dtype=object)[rng.integers(0, 4, int(miss_e.sum()))]
            if messy
            else "NOBT"
        )
        dis = np.where(b.disabled[ch], "Y", "N").astype(object)
        dis[b.miss_disability[ch]] = ""
        uasc = np.where(b.uasc[ch], "Y", "N").astype(object)
        uasc[b.miss_uasc[ch]] = ""
        if messy and q("dr2_uasc_01", ret.name):
            coded = np.full(n, "", dtype=object)
            coded[uasc == "Y"] = 1
            coded[uasc == "N"] = 0
            uasc = coded
        if messy and q("dr2_disability_no_word", ret.name):
            words = rng.random(n) < 0.3
            dis = np.where(words & (dis == "N"), "No", np.where(words & (dis == "Y"), "Yes", dis)).astype(object)
        if messy and q("dr2_bullet_labels", ret.name):
            gender = mess.bullet(gender, GENDER_OPTIONS)
            eth = mess.bullet(eth, tuple(codes.ETHNICITY_LABELS))
            dis = mess.bullet(
                np.where(dis == "Y", "Yes", np.where(dis == "N", "No", dis)).astype(object), ("Yes", "No")
            )
        data["Gender"] = gender
        data["Disabled status"] = dis
        data["Unaccompanied Asylum Seeker"] = uasc
        if "Ethnicity_2" in cols:
            # the DOB was split over two columns: month in the DOB column, year in "Ethnicity"
            data["Ethnicity_2"] = eth
            month_txt = np.array([s[:2] if s else "" for s in fmt(dob, "my").tolist()], dtype=object)
            year_txt = np.array([s[3:] if s else "" for s in fmt(dob, "my").tolist()], dtype=object)
            month_txt[b.miss_dob[ch]] = ""
            year_txt[b.miss_dob[ch]] = ""
            data["Year and month of birth of the child"] = month_txt
            data["Ethnicity"] = year_txt
        else:
            data["Year and month of birth of the child"] = dob_cell
            data["Ethnicity"] = eth
        if self.with_identifiers:
            self._bait(b, rng, ret, ch, data, cols)
        table = [data[c] for c in cols]
        first_row = sheet.row + 1
        for r in range(n):
            sheet.write_row([col[r] for col in table])
        if self.with_identifiers:
            self._hidden_rows(ret, first_row, data)

    def _bait(
        self,
        b: Batch,
        rng: np.random.Generator,
        ret: ReturnWindow,
        ch: npt.NDArray[np.int64],
        data: dict[str, ObjArray],
        cols: list[str],
    ) -> None:
        n = ch.size
        if "NHS number" in cols:
            fn, sn = names(rng, b.n)
            extra = {
                "Child's name": (fn + " " + sn)[ch],
                "Home address": addresses(rng, b.n)[ch],
                "Postcode": postcodes(rng, b.n, b.la.postcode_areas)[ch],
                "UPN": upns(rng, b.n, b.la.la.dfe_code)[ch],
                "NHS number": nhs_numbers(rng, b.n)[ch],
                "Date of birth": fmt(b.dob[ch], "dmy"),
            }
            for c, kind in DR2_BAIT_COLUMNS:
                data[c] = extra[c]
                lst = self.extra_samples.setdefault((ret.name, c), [])
                lst.extend(str(v) for v in extra[c][: BaitLog.MAX_SAMPLES - len(lst)].tolist())
                self.extra_samples[(ret.name, c + "\0kind")] = [kind]
        # identifiers hidden in allowed columns: at least one of each per batch and return
        plant: dict[str, tuple[str, Callable[[int], ObjArray]]] = {
            "Ethnicity": (
                "name",
                lambda k: np.array([f"{a} {b_}" for a, b_ in zip(*names(rng, k), strict=True)], dtype=object),
            ),
            "Referral ID (or Case ID)": ("nhs_number", lambda k: nhs_numbers(rng, k)),
            "Factors identified at the end of assessment": (
                "postcode",
                lambda k: postcodes(rng, k, b.la.postcode_areas),
            ),
            "Year and month of birth of the child": ("date_of_birth", lambda k: fmt(b.dob[ch[:k]] + 0, "dmy")),
        }
        for col, (kind, make) in plant.items():
            if col not in data:
                continue
            k = max(1, n // 1000)
            where = rng.choice(n, size=min(k, n), replace=False)
            values = make(where.size)
            data[col][where] = values
            key = (ret.name, col, kind)
            rows, vals = self.hidden.setdefault(key, ([], []))
            rows.extend((-1 - where).tolist())  # resolved to Excel rows after writing
            vals.extend(str(v) for v in values.tolist())

    def _hidden_rows(self, ret: ReturnWindow, first_row: int, data: dict[str, ObjArray]) -> None:
        for (rname, _col, _kind), (rows, _vals) in self.hidden.items():
            if rname != ret.name:
                continue
            for i, r in enumerate(rows):
                if r < 0:
                    rows[i] = first_row + (-1 - r)

    def close(self) -> list[Path]:
        paths = []
        for name, (wb, _sheet, _cols) in self.books.items():
            paths.append(wb.close())
            rel = str(wb.path.relative_to(self.rel_root))
            for (rname, col), vals in self.extra_samples.items():
                if rname == name and not col.endswith("\0kind"):
                    kind = self.extra_samples[(rname, col + "\0kind")][0]
                    self.bait.extra_column(rel, col, kind, np.array(vals, dtype=object))
            for (rname, col, kind), (rows, vals) in self.hidden.items():
                if rname == name:
                    self.bait.hidden(rel, col, kind, rows, vals)
        return paths


# --- DR3 ----------------------------------------------------------------------------------------------


class Dr3Writer:
    def __init__(self, out_dir: Path, s: Settings, la: LARates, la_index: int) -> None:
        self.s, self.la, self.la_index, self.dir = s, la, la_index, out_dir
        self.books: dict[str, tuple[Workbook, dict[str, Sheet], list[str], list[int]]] = {}

    def _messy(self, quirk: str, ret: str) -> bool:
        return not self.s.clean and self.la.quirk(quirk, ret)

    def _open(self, ret: ReturnWindow, sd: SchoolData) -> None:
        prefix = _file_prefix(self.la, self.s.clean, ret.name)
        wb = Workbook(self.dir / f"{prefix}_dr3_{ret.name}.xlsx")
        wb.sheet("Instructions").write_row(
            [f"Data Return 3: outcomes of the target cohort, {ret.start.isoformat()} to {ret.end.isoformat()}"]
        )
        wb.sheet("Definitions").write_row(["Dates as dd/mm/yyyy. One row per child per event."])
        sheets: dict[str, Sheet] = {}
        layout: tuple[tuple[str, int, tuple[str, ...]], ...] = (
            ("cla", 4, DR3_CLA_COLUMNS),
            ("cpp", 5, DR3_CPP_COLUMNS),
            ("proc", 5, DR3_PROC_COLUMNS),
        )
        for key, skip, sheet_cols in layout:
            sh = wb.sheet(DR3_SHEETS[key])
            _title_rows(sh, DR3_SHEETS[key], self.la, skip)
            sh.write_row(list(sheet_cols))
            sheets[key] = sh
        sh = wb.sheet(DR3_SHEETS["school"])
        _title_rows(sh, DR3_SHEETS["school"], self.la, 4)
        lo, hi = day(ret.start), day(ret.end)
        term_idx = [k for k, t in enumerate(sd.terms) if t.start >= day(D(2020, 4, 1)) and t.end <= hi]
        cols: list[str] = ["Child ID"] + [sd.terms[k].label for k in term_idx]
        census = [y for y in sd.census_years if day(D(y, 1, 16)) >= lo and day(D(y, 1, 16)) <= hi]
        if self._messy("dr3_fsm_by_census_year", ret.name):
            cols += [f"{FSM_COLUMN} Census {y}" for y in census] + [f"{PP_COLUMN} Census {y}" for y in census]
        else:
            cols += [FSM_COLUMN, PP_COLUMN]
        sh.write_row(cols)
        sheets["school"] = sh
        self.books[ret.name] = (wb, sheets, cols, term_idx)
        self._census = census

    def add(self, b: Batch, ids: ObjArray, sd: SchoolData) -> None:
        for ret in DR3_RETURNS:
            if ret.name not in self.books:
                self._open(ret, sd)
            self._add(b, ids, sd, ret)

    def _dates(self, rng: np.random.Generator, days: IntArray, ret: str) -> ObjArray:
        if self.s.clean:
            return mess.excel_dates(days)
        if ret == "jul24":
            # the July 2024 return was read as bare Excel serials
            out = np.full(days.shape, None, dtype=object)
            ok = days != NO_DATE
            out[ok] = excel_serial(days[ok]).astype(np.int64).astype(object)
            return out
        return mess.mixed_dates(rng, days) if rng.random() < 0.3 else mess.excel_dates(days)

    def _add(self, b: Batch, ids: ObjArray, sd: SchoolData, ret: ReturnWindow) -> None:
        _wb, sheets, _cols, term_idx = self.books[ret.name]
        rng = batch_rng(self.s.seed, b.la_index, b.batch_index, 30 + DR3_RETURNS.index(ret))
        lo, hi = day(ret.start), day(ret.end)
        c_lo, c_hi = day(DR3_COHORT[0]), day(DR3_COHORT[1])
        in_cohort = np.zeros(b.n, dtype=np.bool_)
        in_cohort[b.r_child[(b.r_date >= c_lo) & (b.r_date <= c_hi)]] = True
        cohort = np.flatnonzero(in_cohort)
        care = b.care_start
        # CLA starts: nov22 lists children who became looked after in the window; jul24 was pre-filled
        # with every cohort id (an empty date = not looked after)
        who = cohort if ret.name == "jul24" else cohort[(care[cohort] >= lo) & (care[cohort] <= hi)]
        start = np.where((care[who] >= lo) & (care[who] <= hi), care[who], NO_DATE)
        cells = self._dates(rng, start, ret.name)
        for i, ch in enumerate(who.tolist()):
            sheets["cla"].write_row([ids[ch], cells[i]])
        # CPPs of cohort children starting in the window
        rows = np.flatnonzero(in_cohort[b.r_child] & (b.r_cpp_start >= lo) & (b.r_cpp_start <= hi))
        s_cells = self._dates(rng, b.r_cpp_start[rows], ret.name)
        end = np.where(b.r_cpp_end[rows] <= hi, b.r_cpp_end[rows], NO_DATE)
        e_cells = self._dates(rng, end, ret.name)
        for i, r in enumerate(rows.tolist()):
            sheets["cpp"].write_row([ids[b.r_child[r]], s_cells[i], e_cells[i]])
        # pre-proceedings and care proceedings (gaps: some LAs could not supply one of them)
        if not self._messy("dr3_no_care_proceedings", ret.name):
            pre = np.where((b.r_pre_start >= lo) & (b.r_pre_start <= hi), b.r_pre_start, NO_DATE)
            proc = np.where((b.r_proc_issue >= lo) & (b.r_proc_issue <= hi), b.r_proc_issue, NO_DATE)
            if self._messy("dr3_no_pre_proceedings", ret.name):
                pre = np.full_like(pre, NO_DATE)
            rows = np.flatnonzero(in_cohort[b.r_child] & ((pre != NO_DATE) | (proc != NO_DATE)))
            p_cells = self._dates(rng, pre[rows], ret.name)
            c_cells = self._dates(rng, proc[rows], ret.name)
            for i, r in enumerate(rows.tolist()):
                sheets["proc"].write_row([ids[b.r_child[r]], p_cells[i], c_cells[i]])
        # school attendance: unauthorised absence % per term, FSM and pupil premium
        pct = np.full((b.n, len(sd.terms)), np.nan)
        pct[sd.a_child, sd.a_term] = np.round(100.0 * sd.unauthorised / np.maximum(sd.possible, 1), 1)
        by_census = self._messy("dr3_fsm_by_census_year", ret.name)
        census_idx = [sd.census_years.index(y) for y in self._census]
        for ch in cohort.tolist():
            vals = pct[ch, term_idx]
            if np.all(np.isnan(vals)) and not sd.on_roll[ch, census_idx].any():
                continue
            row: list[Any] = [ids[ch]] + ["" if np.isnan(v) else f"{v:.1f}" for v in vals.tolist()]
            if by_census:
                row += ["Yes" if sd.ever_fsm[ch, j] else ("No" if sd.on_roll[ch, j] else "") for j in census_idx]
                row += ["Yes" if sd.pupil_premium[ch, j] else ("No" if sd.on_roll[ch, j] else "") for j in census_idx]
            else:
                j = census_idx[-1] if census_idx else 0
                on = sd.on_roll[ch, census_idx].any()
                row += [
                    "Yes" if sd.ever_fsm[ch, census_idx].any() else ("No" if on else ""),
                    "Yes" if sd.pupil_premium[ch, j] else ("No" if on else ""),
                ]
            sheets["school"].write_row(row)

    def close(self) -> list[Path]:
        return [wb.close() for wb, _s, _c, _t in self.books.values()]


# --- DR1 ----------------------------------------------------------------------------------------------


def _open_count(starts: IntArray, ends: IntArray, lo: IntArray, hi: IntArray) -> IntArray:
    """Intervals [start, end] (end NO_DATE = open) that overlap each [lo, hi]."""
    st = np.sort(starts)
    en = np.sort(np.where(ends == NO_DATE, np.iinfo(np.int64).max, ends))
    return np.asarray(np.searchsorted(st, hi, side="right") - np.searchsorted(en, lo, side="left"), dtype=np.int64)


class Dr1Accumulator:
    """LA monthly aggregates summed over batches."""

    MEASURES = ("assessments", "cla_end", "cla_new", "cin_started", "cin_open", "cpp_started", "cpp_open", "referrals")

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.start = s.study.windows.data_start.replace(day=1)
        months = np.arange(np.datetime64(self.start, "M"), np.datetime64(s.study.windows.data_end, "M") + 1)
        self.month_first = months.astype("datetime64[D]").astype(np.int64)
        self.month_last = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
        self.values = {m: np.zeros(months.size, dtype=np.int64) for m in self.MEASURES}

    def _count(self, key: str, days: IntArray) -> None:
        d = days[days != NO_DATE]
        idx = month_index(d, self.start)
        idx = idx[(idx >= 0) & (idx < self.month_first.size)]
        self.values[key] += np.bincount(idx, minlength=self.month_first.size)

    def add(self, b: Batch) -> None:
        self._count("referrals", b.r_date)
        self._count("assessments", b.r_asmt_auth)
        self._count("cin_started", b.r_cin_start)
        self._count("cpp_started", b.r_cpp_start)
        self._count("cla_new", b.care_start)
        self.values["cin_open"] += _open_count(b.r_date, b.r_closure, self.month_first, self.month_last)
        has = b.r_cpp_start != NO_DATE
        self.values["cpp_open"] += _open_count(b.r_cpp_start[has], b.r_cpp_end[has], self.month_last, self.month_last)
        inc = b.care_start != NO_DATE
        self.values["cla_end"] += _open_count(b.care_start[inc], b.care_end[inc], self.month_last, self.month_last)


def write_dr1(
    out_dir: Path, s: Settings, la: LARates, la_index: int, acc: Dr1Accumulator, scale: float
) -> tuple[list[Path], float]:
    """Write the six DR1 returns of an LA; returns the paths and the share of months with a blank FSM."""
    rng = batch_rng(s.seed, la_index, 0, 40)
    messy = not s.clean
    n_months = acc.month_first.size
    t_years = (acc.month_first - acc.month_first[0]) / 365.25
    # children looked after before the data window leave care over the years (pre-2019 stock)
    stock = np.round(la.cla_stock_2019 * scale * np.exp(-t_years / 3.0)).astype(np.int64)
    cla_end = acc.values["cla_end"] + stock
    population = max(1.0, la.population_0_17 * scale)
    cla_rate = np.round(cla_end / population * 10_000, 1)
    fsm = np.round(la.fsm_share_pupils * (1 + 0.03 * t_years) + rng.normal(0, 0.004, n_months), 4)
    fsm_blank = (rng.random(n_months) < s.common.dr1_fsm_missing) if messy else np.zeros(n_months, dtype=np.bool_)
    caseload = np.round(rng.normal(17, 2, n_months), 1)
    turnover = np.round(rng.uniform(0.08, 0.2, n_months), 3)
    paths = []
    lo_idx = month_index(np.array([day(DR1_START)]), acc.start)[0]
    for ret in DR1_RETURNS:

        def q(name: str, r: str = ret.name) -> bool:
            return messy and la.quirk(name, r)

        wb = Workbook(out_dir / f"{la.key}_dr1_{ret.name}.xlsx")
        sheet = wb.sheet(DR1_SHEET)
        if q("dr1_header_offset"):
            sheet.write_row(["Data Return 1 - LA aggregate data"])
        cols = list(DR1_COLUMNS) + (list(DR1_EXTRA) if q("dr1_extra_columns") else [])
        sheet.write_row(cols)
        hi_idx = month_index(np.array([day(ret.end)]), acc.start)[0]
        for m in range(int(lo_idx), int(hi_idx) + 1):
            fsm_v: Any = "" if fsm_blank[m] else float(fsm[m])
            if not fsm_blank[m] and q("dr1_fsm_percent_scale"):
                fsm_v = round(float(fsm[m]) * 100, 2)
            rate: Any = float(cla_rate[m])
            if q("dr1_cla_rate_scale"):
                rate = round(float(cla_rate[m]) / 100, 4)
            cin_open: Any = int(acc.values["cin_open"][m])
            if q("dr1_text_in_numeric") and m == hi_idx:
                cin_open = "Currently unavailable"
            v = acc.values
            row: list[Any] = [
                float(excel_serial(acc.month_first[m : m + 1])[0]),
                int(v["assessments"][m]),
                None if isinstance(fsm_v, str) else _num(f"{fsm_v}"),
                _num(f"{rate}"),
                int(cla_end[m]),
                int(v["cla_new"][m]),
                int(v["cin_started"][m]),
                cin_open,
                int(v["cpp_started"][m]),
                int(v["cpp_open"][m]),
                int(v["referrals"][m]),
            ]
            if q("dr1_extra_columns"):
                row += [_num(f"{caseload[m]}"), _num(f"{turnover[m]}")]
            if q("dr1_duplicate_months"):
                sheet.write_row([row[0]])  # the duplicate month row, left empty
            sheet.write_row(row)
        paths.append(wb.close())
    share = float(fsm_blank[int(lo_idx) :].mean()) if n_months > lo_idx else 0.0
    return paths, round(share, 4)


def _num(text: str) -> Decimal:
    return Decimal(float(text))
