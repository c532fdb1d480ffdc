"""CIN census XML, one file per LA and collection year (2019/20 .. 2025/26), written as a stream.

Element names and order follow the DfE schema as the public fixtures show it (shared/fixtures/
csc-validator-be-cin): Message/Header/CollectionDetails|Source, Children/Child/ChildIdentifiers|
ChildCharacteristics|CINdetails/... Year differences: `GenderCurrent` (1/2/0/9) up to 2023/24 and `Sex`
(M/F/U) from 2024/25; `CINPlanDates` from 2021/22; assessment factors 18A/19A before 2020/21 and 24A
from 2021/22; referral source 5D and closure reason RC9 from 2022/23.

A child appears in a year's file when one of their episodes of need is open at some point of the
collection year; modules that start after the reference date are left out and end dates after it are
blank, as an extract taken on 31 March would have them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from cscvault import __version__
from cscvault.synth import codes
from cscvault.synth.dates import NO_DATE, add_months, day, first_of_month, fmt
from cscvault.synth.dgp import Batch, Settings, age_years_at, batch_rng
from cscvault.synth.identifiers import BaitLog, upns

ObjArray = npt.NDArray[np.object_]


def collection_years(settings: Settings) -> list[int]:
    """Reference years (31 March) of the collections from the first one starting in the data window to
    the one holding its end: 2020 (2019/20) .. 2026 (2025/26) for the default study."""
    w = settings.study.windows
    first = w.data_start.year + (1 if w.data_start <= dt.date(w.data_start.year, 4, 1) else 2)
    last = w.data_end.year + (1 if w.data_end.month >= 4 else 0)
    return list(range(first, last + 1))


def year_label(ref_year: int) -> str:
    return f"{ref_year - 1}-{ref_year % 100:02d}"


def _factor_codes(mask: int, ref_year: int) -> list[str]:
    out = []
    for k, c in enumerate(codes.FACTOR_CODES):
        if not (mask >> k) & 1:
            continue
        if ref_year <= 2020 and c in ("18C", "19C"):
            c = c[:2] + "A"
        if ref_year < 2022 and c == "24A":
            c = "20"
        if c not in out:
            out.append(c)
    return out or [codes.NO_FACTORS_CODE]


class CinCensusWriter:
    def __init__(
        self,
        out_dir: Path,
        rel_root: Path,
        settings: Settings,
        la_key: str,
        la_index: int,
        with_identifiers: bool,
        bait: BaitLog,
    ) -> None:
        self.s = settings
        self.dir = out_dir
        self.rel_root = rel_root
        self.with_identifiers = with_identifiers
        self.bait = bait
        self.la_key = la_key
        self.years = collection_years(settings)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.paths = {y: out_dir / f"{la_key}_cin_census_{year_label(y)}.xml" for y in self.years}
        self.fh: dict[int, IO[str]] = {}
        self.children = dict.fromkeys(self.years, 0)
        mess = not settings.clean
        # some LA systems emit yes/no items as true/false, others as 1/0 (both seen in public samples)
        self.bool_words = mess and batch_rng(settings.seed, la_index, 0, 6).random() < 0.5
        self.upn_samples: dict[int, list[str]] = {y: [] for y in self.years}
        self.dob_samples: dict[int, list[str]] = {y: [] for y in self.years}
        self.dfe = ""

    def _open(self, b: Batch) -> None:
        self.dfe = b.la.la.dfe_code
        for y, path in self.paths.items():
            fh = path.open("w", encoding="utf-8", newline="\n")
            fh.write(
                '<?xml version="1.0" encoding="utf-8"?>\n<Message>\n<Header>\n<CollectionDetails>\n'
                f"<Collection>CIN</Collection>\n<Year>{y}</Year>\n<ReferenceDate>{y}-03-31</ReferenceDate>\n"
                "</CollectionDetails>\n<Source>\n<SourceLevel>L</SourceLevel>\n"
                f"<LEA>{self.dfe}</LEA>\n<SoftwareCode>cscvault synth</SoftwareCode>\n"
                f"<Release>{__version__}</Release>\n"
                f"<SerialNo>001</SerialNo>\n<DateTime>{y}-05-15T09:00:00</DateTime>\n</Source>\n</Header>\n<Children>\n"
            )
            self.fh[y] = fh

    def _yn(self, v: bool) -> str:
        if self.bool_words:
            return "true" if v else "false"
        return "1" if v else "0"

    def add(self, b: Batch, child_ids: ObjArray) -> None:
        if not self.fh:
            self._open(b)
        rng = batch_rng(self.s.seed, b.la_index, b.batch_index, 7)
        upn = upns(rng, b.n, b.la.la.dfe_code) if self.with_identifiers else None
        former = rng.random(b.n) < 0.05
        dob = b.dob if self.with_identifiers else first_of_month(b.dob)
        dob_s = fmt(dob, "iso")
        r = b
        cols = {
            name: fmt(getattr(r, name), "iso")
            for name in (
                "r_date",
                "r_closure",
                "r_asmt_start",
                "r_asmt_auth",
                "r_s47",
                "r_icpc",
                "r_cpp_start",
                "r_cpp_end",
                "r_cin_start",
                "r_cin_end",
            )
        }
        target = fmt(np.where(r.r_s47 != NO_DATE, r.r_s47 + 21, NO_DATE), "iso")
        for y in self.years:
            y_start = day(dt.date(y - 1, 4, 1))
            y_end = day(dt.date(y, 3, 31))
            sel = (r.r_date <= y_end) & ((r.r_closure == NO_DATE) | (r.r_closure >= y_start))
            rows = np.flatnonzero(sel)
            if rows.size == 0:
                continue
            fh = self.fh[y]
            age = age_years_at(b.dob, np.full(b.n, y_end, dtype=np.int64))
            parts: list[str] = []
            k = 0
            nrows = rows.size
            while k < nrows:
                ch = int(r.r_child[rows[k]])
                parts.append(self._child_open(b, ch, y, y_end, int(age[ch]), dob_s, child_ids, upn, bool(former[ch])))
                while k < nrows and int(r.r_child[rows[k]]) == ch:
                    parts.append(self._details(r, int(rows[k]), y, y_start, y_end, cols, target))
                    k += 1
                parts.append("</Child>\n")
                self.children[y] += 1
            fh.write("".join(parts))

    def _child_open(
        self,
        b: Batch,
        ch: int,
        y: int,
        y_end: int,
        age: int,
        dob_s: ObjArray,
        ids: ObjArray,
        upn: ObjArray | None,
        former: bool,
    ) -> str:
        out = [f"<Child>\n<ChildIdentifiers>\n<LAchildID>{ids[ch]}</LAchildID>\n"]
        if upn is not None and age >= 4:
            out.append(f"<UPN>{upn[ch]}</UPN>\n")
            if former:
                out.append(f"<FormerUPN>{upn[ch][0]}{upn[ch][1:4]}9{upn[ch][5:]}</FormerUPN>\n")
            if len(self.upn_samples[y]) < BaitLog.MAX_SAMPLES:
                self.upn_samples[y].append(str(upn[ch]))
                self.dob_samples[y].append(str(dob_s[ch]))
        elif age < 5:
            out.append("<UPNunknown>UN1</UPNunknown>\n")
        if int(b.dob[ch]) <= y_end:
            out.append(f"<PersonBirthDate>{dob_s[ch]}</PersonBirthDate>\n")
        else:
            out.append(f"<ExpectedPersonBirthDate>{dob_s[ch]}</ExpectedPersonBirthDate>\n")
        sex = int(b.sex[ch])
        missing = bool(b.miss_gender[ch])
        if y >= 2025:
            code = "U" if missing or sex == 9 else ("M" if sex == 1 else "F")
            out.append(f"<Sex>{code}</Sex>\n")
        else:
            code = "0" if missing else str(sex)
            out.append(f"<GenderCurrent>{code}</GenderCurrent>\n")
        eth = "NOBT" if b.miss_ethnicity[ch] else codes.ETHNICITY_CODES[int(b.ethnicity[ch])]
        out.append(f"</ChildIdentifiers>\n<ChildCharacteristics>\n<Ethnicity>{eth}</Ethnicity>\n")
        if not b.miss_disability[ch]:
            dis = codes.DISABILITIES[int(b.disability_code[ch])] if b.disabled[ch] else "NONE"
            out.append(f"<Disabilities>\n<Disability>{dis}</Disability>\n</Disabilities>\n")
        out.append("</ChildCharacteristics>\n")
        return "".join(out)

    def _details(
        self, r: Batch, i: int, y: int, y_start: int, y_end: int, c: dict[str, ObjArray], target: ObjArray
    ) -> str:
        out = ["<CINdetails>\n", f"<CINreferralDate>{c['r_date'][i]}</CINreferralDate>\n"]
        source = codes.REFERRAL_SOURCES[int(r.r_source[i])][0]
        if y < 2023 and source == "5D":
            source = "5A"
        out.append(f"<ReferralSource>{source}</ReferralSource>\n")
        need = int(r.r_need[i])
        out.append(f"<PrimaryNeedCode>{codes.PRIMARY_NEED[need] if need < 8 else 'N9'}</PrimaryNeedCode>\n")
        closure = int(r.r_closure[i])
        if closure != NO_DATE and closure <= y_end:
            reason = str(r.r_closure_reason[i])
            if y < 2023 and reason == "RC9":
                reason = "RC8"
            out.append(
                f"<CINclosureDate>{c['r_closure'][i]}</CINclosureDate>\n<ReasonForClosure>{reason}</ReasonForClosure>\n"
            )
        icpc = int(r.r_icpc[i])
        if icpc != NO_DATE and icpc <= y_end:
            out.append(f"<DateOfInitialCPC>{c['r_icpc'][i]}</DateOfInitialCPC>\n")
        a_start = int(r.r_asmt_start[i])
        if a_start != NO_DATE and a_start <= y_end:
            out.append(
                f"<Assessments>\n<AssessmentActualStartDate>{c['r_asmt_start'][i]}</AssessmentActualStartDate>\n"
            )
            auth = int(r.r_asmt_auth[i])
            if auth != NO_DATE and auth <= y_end:
                out.append(f"<AssessmentAuthorisationDate>{c['r_asmt_auth'][i]}</AssessmentAuthorisationDate>\n")
                out.append("<FactorsIdentifiedAtAssessment>\n")
                out.extend(
                    f"<AssessmentFactors>{f}</AssessmentFactors>\n" for f in _factor_codes(int(r.r_factors[i]), y)
                )
                out.append("</FactorsIdentifiedAtAssessment>\n")
            out.append("</Assessments>\n")
        cin_s, cin_e = int(r.r_cin_start[i]), int(r.r_cin_end[i])
        if y >= 2022 and cin_s != NO_DATE and cin_s <= y_end and (cin_e == NO_DATE or cin_e >= y_start):
            out.append(f"<CINPlanDates>\n<CINPlanStartDate>{c['r_cin_start'][i]}</CINPlanStartDate>\n")
            if cin_e != NO_DATE and cin_e <= y_end:
                out.append(f"<CINPlanEndDate>{c['r_cin_end'][i]}</CINPlanEndDate>\n")
            out.append("</CINPlanDates>\n")
        s47 = int(r.r_s47[i])
        if s47 != NO_DATE and s47 <= y_end:
            out.append(f"<Section47>\n<S47ActualStartDate>{c['r_s47'][i]}</S47ActualStartDate>\n")
            out.append(f"<InitialCPCtarget>{target[i]}</InitialCPCtarget>\n")
            held = icpc != NO_DATE and icpc <= y_end
            if held:
                out.append(f"<DateOfInitialCPC>{c['r_icpc'][i]}</DateOfInitialCPC>\n")
            out.append(f"<ICPCnotRequired>{self._yn(icpc == NO_DATE)}</ICPCnotRequired>\n</Section47>\n")
        out.append(f"<ReferralNFA>{self._yn(bool(r.r_nfa[i]))}</ReferralNFA>\n")
        cpp_s, cpp_e = int(r.r_cpp_start[i]), int(r.r_cpp_end[i])
        if cpp_s != NO_DATE and cpp_s <= y_end and (cpp_e == NO_DATE or cpp_e >= y_start):
            out.append(f"<ChildProtectionPlans>\n<CPPstartDate>{c['r_cpp_start'][i]}</CPPstartDate>\n")
            if cpp_e != NO_DATE and cpp_e <= y_end:
                out.append(f"<CPPendDate>{c['r_cpp_end'][i]}</CPPendDate>\n")
            cat = codes.ABUSE_CATEGORIES[int(r.r_cpp_cat[i])]
            latest = codes.ABUSE_CATEGORIES[int(r.r_cpp_cat_latest[i])]
            out.append(
                f"<InitialCategoryOfAbuse>{cat}</InitialCategoryOfAbuse>\n<LatestCategoryOfAbuse>{latest}</LatestCategoryOfAbuse>\n"
            )
            out.append(f"<NumberOfPreviousCPP>{int(r.r_prev_cpp[i])}</NumberOfPreviousCPP>\n")
            stop = min(y_end, cpp_e if cpp_e != NO_DATE else y_end)
            reviews = []
            rv = int(add_months(np.array([cpp_s]), 3)[0])
            while rv <= stop:
                reviews.append(rv)
                rv = int(add_months(np.array([rv]), 6)[0])
            if reviews:
                out.append("<Reviews>\n")
                out.extend(f"<CPPreviewDate>{d}</CPPreviewDate>\n" for d in fmt(np.array(reviews), "iso").tolist())
                out.append("</Reviews>\n")
            out.append("</ChildProtectionPlans>\n")
        out.append("</CINdetails>\n")
        return "".join(out)

    def close(self) -> list[Path]:
        for y, fh in self.fh.items():
            fh.write("</Children>\n</Message>\n")
            fh.close()
            if self.with_identifiers:
                rel = str(self.paths[y].relative_to(self.rel_root))
                self.bait.extra_column(rel, "UPN", "upn", np.array(self.upn_samples[y], dtype=object))
                self.bait.extra_column(
                    rel, "PersonBirthDate", "date_of_birth", np.array(self.dob_samples[y], dtype=object)
                )
        return list(self.paths.values()) if self.fh else []
