"""One small vectorised function per DfE CIN validation rule that cscvault implements.

Each function takes the census `Tables` and returns `Hit`s: a table, the row positions that fail, and
the data item to name. A rule about two modules (an assessment starting before its referral) marks
the record in each. Semantics follow the DfE rule text; where the public data-to-insight validator
reads a rule differently, `tests/data/dfe_cin/README.md` says where and why.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from cscvault.la.dfe_cin.tables import Tables


@dataclass(frozen=True)
class Hit:
    table: str
    rows: tuple[int, ...]  # positions in `Tables[table]`
    field: str
    # A rule about the whole return (the header, the LA's use of codes) has no record to point at.
    return_level: bool = False


Check = Callable[[Tables], list[Hit]]
CHECKS: dict[str, Check] = {}


def _codes(text: str) -> frozenset[str]:
    """A code set written as the census code table lists it (space-separated)."""
    return frozenset(text.split())


ETHNICITY = _codes(
    "ABAN AIND AOTH APKN BAFR BCRB BOTH CHNE MOTH MWAS MWBA MWBC NOBT OOTH REFU WBRI WIRI WIRT WOTH WROM"
)
REFERRAL_SOURCE = _codes("1A 1B 1C 1D 2A 2B 3A 3B 3C 3D 3E 3F 4 5A 5B 5C 5D 6 7 8 9 10")
REASON_FOR_CLOSURE = frozenset(f"RC{i}" for i in range(1, 10))
CATEGORY_OF_ABUSE = frozenset({"NEG", "PHY", "SAB", "EMO", "MUL"})
GENDER = frozenset({"1", "2", "0", "9"})  # GenderCurrent, to 2023/24
SEX = frozenset({"M", "F", "U"})  # Sex, from 2024/25
FACTORS = _codes(
    "1A 1B 1C 2A 2B 2C 3A 3B 3C 4A 4B 4C 5A 5B 5C 6A 6B 6C 7A 8B 8C 8D 8E 8F 9A 10A 11A 12A 13A 14A 15A"
    " 16A 17A 18A 18B 18C 19A 19B 19C 20 21 22A 23A 24A"
)
NFA_TRUE = frozenset({"true", "1"})
SEX_FROM = 2025  # census year (end) in which <Sex> M/F/U replaced <GenderCurrent> 1/2/0/9


def check(code: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        if code in CHECKS:
            raise ValueError(f"DfE CIN rule {code} has two checks")
        CHECKS[code] = fn
        return fn

    return register


def _rows(mask: pd.Series | np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool)))


def _hit(table: str, mask: pd.Series | np.ndarray, field: str) -> list[Hit]:
    rows = _rows(mask)
    return [Hit(table, rows, field)] if rows else []


def _outside(t: Tables, dates: pd.Series) -> pd.Series:
    """Present and outside the collection period (nothing is outside when the period is unknown)."""
    if t.period is None:
        return pd.Series(False, index=dates.index)
    start, end = t.period
    return dates.notna() & ((dates < start) | (dates > end))


def _parent(t: Tables, table: str, column: str) -> pd.Series:
    """The CINdetails value of each row of a module table, aligned to that table."""
    df = t[table]
    return t["cin"][column].iloc[df["cin"].to_numpy()].reset_index(drop=True) if len(df) else df["cin"]


def _nfa(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.strip().str.lower().isin(NFA_TRUE)


def _with_parent(t: Tables, table: str, mask: pd.Series, own: str, parent: str) -> list[Hit]:
    """A rule that compares a module with its CINdetails: mark both records."""
    rows = _rows(mask)
    if not rows:
        return []
    cin_rows = sorted({int(t[table]["cin"].iloc[r]) for r in rows})
    return [Hit(table, rows, own), Hit("cin", tuple(cin_rows), parent)]


# -- the return as a whole ------------------------------------------------------------------------


@check("100")
def _reference_date(t: Tables) -> list[Hit]:
    ok = t.reference_date is not None and t.year_text is not None and t.year_text.isdigit()
    if ok and t.reference_date == pd.Timestamp(int(str(t.year_text)), 3, 31):
        return []
    return [Hit("header", (), "ReferenceDate", return_level=True)]


@check("2887Q")
def _few_disability_codes(t: Tables) -> list[Hit]:
    codes = t["disabilities"]["Disability"].dropna()
    if codes[codes != "NONE"].nunique() < 8:
        return [Hit("disabilities", (), "Disability", return_level=True)]
    return []


# -- child identifiers and characteristics --------------------------------------------------------


@check("8500")
def _child_id_missing(t: Tables) -> list[Hit]:
    return _hit("children", t["children"]["LAchildID"].isna(), "LAchildID")


@check("8510")
def _child_id_repeated(t: Tables) -> list[Hit]:
    ids = t["children"]["LAchildID"]
    return _hit("children", ids.notna() & ids.duplicated(keep=False), "LAchildID")


@check("1570")
def _child_id_too_long(t: Tables) -> list[Hit]:
    return _hit("children", t["children"]["LAchildID"].fillna("").str.len() > 20, "LAchildID")


@check("1580")
def _child_id_not_alphanumeric(t: Tables) -> list[Hit]:
    ids = t["children"]["LAchildID"]
    return _hit("children", ids.notna() & ~ids.fillna("").str.fullmatch(r"[A-Za-z0-9]*"), "LAchildID")


@check("8520")
def _born_after_period(t: Tables) -> list[Hit]:
    if t.reference_date is None:
        return []
    return _hit("children", t["children"]["PersonBirthDate"] > t.reference_date, "PersonBirthDate")


@check("8525Q")
def _birth_or_expected_birth(t: Tables) -> list[Hit]:
    c = t["children"]
    return _hit("children", c["PersonBirthDate"].isna() == c["ExpectedPersonBirthDate"].isna(), "PersonBirthDate")


@check("4180")
def _sex(t: Tables) -> list[Hit]:
    c = t["children"]
    if (t.year or 0) >= SEX_FROM:
        return _hit("children", ~c["Sex"].isin(SEX), "Sex")
    return _hit("children", ~c["GenderCurrent"].isin(GENDER), "GenderCurrent")


@check("8750")
def _unborn_sex(t: Tables) -> list[Hit]:
    c = t["children"]
    unborn = c["PersonBirthDate"].isna() & c["ExpectedPersonBirthDate"].notna()
    if (t.year or 0) >= SEX_FROM:
        return _hit("children", unborn & (c["Sex"].fillna("") != "U"), "Sex")
    return _hit("children", unborn & (c["GenderCurrent"].fillna("") != "0"), "GenderCurrent")


@check("4220")
def _ethnicity(t: Tables) -> list[Hit]:
    return _hit("children", ~t["children"]["Ethnicity"].isin(ETHNICITY), "Ethnicity")


def _child_key(t: Tables, df: pd.DataFrame) -> pd.Series:
    """The child a row belongs to, as the census identifies children: by LA child id (by record without one)."""
    ids = t["children"]["LAchildID"].to_numpy()[df["child"].to_numpy()] if len(df) else np.array([], dtype=object)
    fallback = "#" + df["child"].astype(str)
    return pd.Series(ids, index=df.index, dtype=object).fillna(fallback)


@check("8790")
def _disability_none_and_other(t: Tables) -> list[Hit]:
    d = t["disabilities"]
    code = d["Disability"].fillna("").str.upper()
    key = _child_key(t, d)
    with_none = set(key[code == "NONE"])
    return _hit("disabilities", key.isin(with_none) & (code != "NONE"), "Disability")


@check("8794")
def _disability_repeated(t: Tables) -> list[Hit]:
    d = t["disabilities"].assign(key=_child_key(t, t["disabilities"]))
    return _hit("disabilities", d["Disability"].notna() & d.duplicated(["key", "Disability"], keep=False), "Disability")


# -- CIN details (referrals) ----------------------------------------------------------------------


@check("8600")
def _referral_date(t: Tables) -> list[Hit]:
    ref = t["cin"]["CINreferralDate"]
    late = ref > t.reference_date if t.reference_date is not None else pd.Series(False, index=ref.index)
    return _hit("cin", ref.isna() | late, "CINreferralDate")


@check("8620")
def _closure_in_period(t: Tables) -> list[Hit]:
    return _hit("cin", _outside(t, t["cin"]["CINclosureDate"]), "CINclosureDate")


@check("8630")
def _closure_before_referral(t: Tables) -> list[Hit]:
    c = t["cin"]
    return _hit("cin", c["CINclosureDate"] < c["CINreferralDate"], "CINclosureDate")


@check("8640")
def _reason_for_closure_code(t: Tables) -> list[Hit]:
    r = t["cin"]["ReasonForClosure"]
    return _hit("cin", r.notna() & ~r.isin(REASON_FOR_CLOSURE), "ReasonForClosure")


@check("8805")
def _closure_without_reason(t: Tables) -> list[Hit]:
    c = t["cin"]
    return _hit("cin", c["CINclosureDate"].notna() & c["ReasonForClosure"].isna(), "ReasonForClosure")


@check("8810")
def _reason_without_closure(t: Tables) -> list[Hit]:
    c = t["cin"]
    return _hit("cin", c["ReasonForClosure"].notna() & c["CINclosureDate"].isna(), "CINclosureDate")


@check("8866")
def _referral_source(t: Tables) -> list[Hit]:
    c = t["cin"]
    return _hit("cin", c["CINreferralDate"].notna() & ~c["ReferralSource"].isin(REFERRAL_SOURCE), "ReferralSource")


@check("8568")
def _nfa_flag(t: Tables) -> list[Hit]:
    flag = t["cin"]["ReferralNFA"].fillna("").str.lower()
    return _hit("cin", ~flag.isin({"true", "false", "1", "0"}), "ReferralNFA")


def _cin_rows_with(t: Tables, table: str, mask: pd.Series | None = None) -> set[int]:
    df = t[table]
    sel = df if mask is None else df[mask.to_numpy()]
    return {int(i) for i in sel["cin"]}


@check("2990")
def _activity_after_nfa_closure(t: Tables) -> list[Hit]:
    """Closed as RC8/RC9 (after assessment, no further action / early help) yet with later activity."""
    c = t["cin"]
    closed = c["ReasonForClosure"].isin({"RC8", "RC9"})
    hits: list[Hit] = []
    flagged: set[int] = {int(i) for i in np.flatnonzero(closed & c["DateOfInitialCPC"].notna())}
    for table in ("cpp", "s47", "plans"):
        df = t[table]
        mask = closed.to_numpy()[df["cin"].to_numpy()] if len(df) else np.zeros(0, dtype=bool)
        hits += _hit(table, mask, "LAchildID")
        flagged |= {int(i) for i in df["cin"].to_numpy()[mask]}
    rows = tuple(sorted(int(i) for i in flagged))
    return ([Hit("cin", rows, "ReasonForClosure")] if rows else []) + hits


@check("8825Q")
def _rc8_without_assessment(t: Tables) -> list[Hit]:
    c = t["cin"]
    assessed = _cin_rows_with(t, "assessments")
    no_assessment = ~pd.Series(range(len(c)), index=c.index).isin(assessed)
    return _hit("cin", c["ReasonForClosure"].isin({"RC8", "RC9"}) & no_assessment, "ReasonForClosure")


@check("8831")
def _activity_on_nfa(t: Tables) -> list[Hit]:
    c = t["cin"]
    nfa = _nfa(c["ReferralNFA"])
    a, s = t["assessments"], t["s47"]
    a_active = (a["AssessmentActualStartDate"].notna() | a["AssessmentAuthorisationDate"].notna()).to_numpy()
    a_bad = nfa.to_numpy()[a["cin"].to_numpy()] & a_active if len(a) else np.zeros(0, dtype=bool)
    s_bad = nfa.to_numpy()[s["cin"].to_numpy()] & s["S47ActualStartDate"].notna().to_numpy() if len(s) else a_bad[:0]
    flagged: set[int] = {int(i) for i in np.flatnonzero(nfa & c["DateOfInitialCPC"].notna())}
    flagged |= {int(i) for i in a["cin"].to_numpy()[a_bad]} | {int(i) for i in s["cin"].to_numpy()[s_bad]}
    rows = tuple(sorted(int(i) for i in flagged))
    return ([Hit("cin", rows, "ReferralNFA")] if rows else []) + _hit("assessments", a_bad, "LAchildID")


@check("8565")
def _activity_after_closure(t: Tables) -> list[Hit]:
    """Any activity dated after the episode's closure date marks the activity and the episode."""
    c = t["cin"]
    flagged: set[int] = {int(i) for i in np.flatnonzero(c["CINclosureDate"] < c["DateOfInitialCPC"])}
    hits: list[Hit] = []
    for table, cols in (
        ("assessments", ("AssessmentActualStartDate", "AssessmentAuthorisationDate")),
        ("s47", ("S47ActualStartDate", "DateOfInitialCPC")),
        ("cpp", ("CPPendDate",)),
        ("plans", ("CINPlanStartDate", "CINPlanEndDate")),
    ):
        closed = _parent(t, table, "CINclosureDate")
        df = t[table].reset_index(drop=True)
        mask = pd.Series(False, index=df.index)
        for col in cols:
            mask |= closed < df[col]
        hits += _hit(table, mask, cols[0])
        flagged |= {int(i) for i in df.loc[mask, "cin"]}
    rows = tuple(sorted(int(i) for i in flagged))
    return ([Hit("cin", rows, "CINclosureDate")] if rows else []) + hits


# -- assessments ----------------------------------------------------------------------------------


@check("1103")
def _assessment_before_referral(t: Tables) -> list[Hit]:
    a = t["assessments"].reset_index(drop=True)
    mask = a["AssessmentActualStartDate"] < _parent(t, "assessments", "CINreferralDate")
    return _with_parent(t, "assessments", mask, "AssessmentActualStartDate", "CINreferralDate")


@check("8608")
def _assessment_ends_before_start(t: Tables) -> list[Hit]:
    a = t["assessments"]
    return _hit(
        "assessments", a["AssessmentActualStartDate"] > a["AssessmentAuthorisationDate"], "AssessmentActualStartDate"
    )


@check("8696")
def _assessment_end_in_period(t: Tables) -> list[Hit]:
    return _hit(
        "assessments", _outside(t, t["assessments"]["AssessmentAuthorisationDate"]), "AssessmentAuthorisationDate"
    )


@check("8736")
def _open_assessment_start_in_period(t: Tables) -> list[Hit]:
    a = t["assessments"]
    if t.period is None:
        return []
    start, end = t.period
    begun = a["AssessmentActualStartDate"]
    in_period = (begun >= start) & (begun <= end)
    return _hit("assessments", a["AssessmentAuthorisationDate"].isna() & ~in_period, "AssessmentActualStartDate")


def _factors(t: Tables) -> pd.Series:
    return t["assessments"]["factors"].map(lambda f: f if isinstance(f, list) else [])


@check("8614")
def _factors_on_open_assessment(t: Tables) -> list[Hit]:
    a = t["assessments"]
    return _hit(
        "assessments", a["AssessmentAuthorisationDate"].isna() & (_factors(t).map(len) > 0), "AssessmentFactors"
    )


@check("8869")
def _factor_21_alone(t: Tables) -> list[Hit]:
    f = _factors(t)
    return _hit("assessments", f.map(lambda x: "21" in x and len(x) > 1), "AssessmentFactors")


@check("8897Q")
def _completed_assessment_factors(t: Tables) -> list[Hit]:
    a = t["assessments"]
    if t.period is None:
        return []
    completed = a["AssessmentAuthorisationDate"] >= t.period[0]
    f = _factors(t)
    missing_or_invalid = f.map(lambda x: not x or any(code not in FACTORS for code in x))
    return _hit("assessments", completed & missing_or_invalid, "AssessmentFactors")


@check("8898")
def _factor_repeated(t: Tables) -> list[Hit]:
    return _hit("assessments", _factors(t).map(lambda x: len(set(x)) < len(x)), "AssessmentFactors")


@check("8945Q")
def _factor_18a(t: Tables) -> list[Hit]:
    return _hit("assessments", _factors(t).map(lambda x: "18A" in x), "AssessmentFactors")


@check("8950Q")
def _factor_19a(t: Tables) -> list[Hit]:
    return _hit("assessments", _factors(t).map(lambda x: "19A" in x), "AssessmentFactors")


# -- CIN plans ------------------------------------------------------------------------------------


@check("4000")
def _plan_on_nfa(t: Tables) -> list[Hit]:
    mask = _nfa(_parent(t, "plans", "ReferralNFA"))
    return _with_parent(t, "plans", mask, "CINPlanStartDate", "ReferralNFA")


@check("4010")
def _plan_start(t: Tables) -> list[Hit]:
    s = t["plans"]["CINPlanStartDate"]
    late = s > t.reference_date if t.reference_date is not None else pd.Series(False, index=s.index)
    return _hit("plans", s.isna() | late, "CINPlanStartDate")


@check("4011")
def _plan_ends_before_start(t: Tables) -> list[Hit]:
    p = t["plans"]
    return _hit("plans", p["CINPlanEndDate"] < p["CINPlanStartDate"], "CINPlanEndDate")


@check("4012Q")
def _plan_same_day(t: Tables) -> list[Hit]:
    p = t["plans"]
    return _hit("plans", p["CINPlanEndDate"] == p["CINPlanStartDate"], "CINPlanEndDate")


@check("4013")
def _plan_end_in_period(t: Tables) -> list[Hit]:
    return _hit("plans", _outside(t, t["plans"]["CINPlanEndDate"]), "CINPlanEndDate")


@check("4015")
def _plan_before_referral(t: Tables) -> list[Hit]:
    p = t["plans"].reset_index(drop=True)
    mask = p["CINPlanStartDate"] < _parent(t, "plans", "CINreferralDate")
    return _with_parent(t, "plans", mask, "CINPlanStartDate", "CINreferralDate")


@check("4016")
def _plan_during_cpp(t: Tables) -> list[Hit]:
    """A CIN plan starting while one of the child's child protection plans is open."""
    p = t["plans"].reset_index(names="plan_row")
    c = t["cpp"].reset_index(names="cpp_row")
    m = p.merge(c, on="child", how="inner")
    if m.empty or t.reference_date is None:
        return []
    s = m["CINPlanStartDate"]
    open_then = (s >= m["CPPstartDate"]) & (
        (m["CPPendDate"].notna() & (s < m["CPPendDate"])) | (m["CPPendDate"].isna() & (s <= t.reference_date))
    )
    bad = m[open_then]
    out: list[Hit] = []
    if len(bad):
        out.append(Hit("cpp", tuple(sorted({int(i) for i in bad["cpp_row"]})), "CPPstartDate"))
        out.append(Hit("plans", tuple(sorted({int(i) for i in bad["plan_row"]})), "CINPlanStartDate"))
    return out


# -- section 47 enquiries -------------------------------------------------------------------------


@check("1104")
def _icpc_before_referral(t: Tables) -> list[Hit]:
    s = t["s47"].reset_index(drop=True)
    mask = s["DateOfInitialCPC"] < _parent(t, "s47", "CINreferralDate")
    return _with_parent(t, "s47", mask, "DateOfInitialCPC", "CINreferralDate")


@check("2889")
def _s47_before_referral(t: Tables) -> list[Hit]:
    s = t["s47"].reset_index(drop=True)
    mask = s["S47ActualStartDate"] < _parent(t, "s47", "CINreferralDate")
    return _with_parent(t, "s47", mask, "S47ActualStartDate", "CINreferralDate")


@check("8715")
def _icpc_in_period(t: Tables) -> list[Hit]:
    return _hit("s47", _outside(t, t["s47"]["DateOfInitialCPC"]), "DateOfInitialCPC")


@check("8615")
def _s47_start(t: Tables) -> list[Hit]:
    s = t["s47"]
    return _hit(
        "s47", s["S47ActualStartDate"].isna() | (s["S47ActualStartDate"] > s["DateOfInitialCPC"]), "S47ActualStartDate"
    )


# -- child protection plans -----------------------------------------------------------------------


@check("1105")
def _cpp_before_referral(t: Tables) -> list[Hit]:
    c = t["cpp"].reset_index(drop=True)
    mask = c["CPPstartDate"] < _parent(t, "cpp", "CINreferralDate")
    return _with_parent(t, "cpp", mask, "CPPstartDate", "CINreferralDate")


@check("8720")
def _cpp_start(t: Tables) -> list[Hit]:
    s = t["cpp"]["CPPstartDate"]
    late = s > t.reference_date if t.reference_date is not None else pd.Series(False, index=s.index)
    return _hit("cpp", s.isna() | late, "CPPstartDate")


@check("8730")
def _previous_cpps_missing(t: Tables) -> list[Hit]:
    return _hit("cpp", t["cpp"]["NumberOfPreviousCPP"].isna(), "NumberOfPreviousCPP")


@check("8832")
def _cpp_on_nfa(t: Tables) -> list[Hit]:
    mask = _nfa(_parent(t, "cpp", "ReferralNFA"))
    return _with_parent(t, "cpp", mask, "CPPstartDate", "ReferralNFA")


@check("8840")
def _cpp_same_day(t: Tables) -> list[Hit]:
    c = t["cpp"]
    return _hit("cpp", c["CPPstartDate"] == c["CPPendDate"], "CPPendDate")


@check("8905")
def _initial_category(t: Tables) -> list[Hit]:
    return _hit("cpp", ~t["cpp"]["InitialCategoryOfAbuse"].isin(CATEGORY_OF_ABUSE), "InitialCategoryOfAbuse")


@check("8925")
def _cpp_ends_before_start(t: Tables) -> list[Hit]:
    c = t["cpp"]
    return _hit("cpp", c["CPPendDate"] < c["CPPstartDate"], "CPPendDate")


@check("8930")
def _cpp_end_in_period(t: Tables) -> list[Hit]:
    return _hit("cpp", _outside(t, t["cpp"]["CPPendDate"]), "CPPendDate")


@check("8935")
def _two_open_cpps(t: Tables) -> list[Hit]:
    c = t["cpp"]
    is_open = c["CPPendDate"].isna()
    counts = c[is_open].groupby("child").size()
    return _hit("cpp", is_open & c["child"].isin(counts[counts > 1].index), "CPPendDate")


@check("8910")
def _latest_category(t: Tables) -> list[Hit]:
    return _hit("cpp", ~t["cpp"]["LatestCategoryOfAbuse"].isin(CATEGORY_OF_ABUSE), "LatestCategoryOfAbuse")


# -- records of one child that must not overlap or coincide ----------------------------------------


def _keyed(t: Tables, table: str) -> pd.DataFrame:
    df = t[table].reset_index(drop=True)
    return df.assign(row=np.arange(len(df)), key=_child_key(t, df))


def _pair_hits(pairs: pd.DataFrame, left: tuple[str, str], right: tuple[str, str]) -> list[Hit]:
    """Mark both records of each failing pair: (table, field) of the left and of the right record."""
    out: list[Hit] = []
    for (table, fld), col in ((left, "row_a"), (right, "row_b")):
        rows = tuple(sorted({int(i) for i in pairs[col]}))
        if rows:
            out.append(Hit(table, rows, fld))
    return out


def _starts_within(
    t: Tables, a: str, a_start: str, b: str, b_start: str, b_end: str, *, end_inclusive: bool
) -> pd.DataFrame:
    """Pairs (record of `a`, other record of `b`) of one child where a starts on or after b's start and
    before b's end (on it too when `end_inclusive`), or by the reference date when b has no end."""
    left = _keyed(t, a)[["key", "row", a_start]].rename(columns={"row": "row_a", a_start: "start_a"})
    right = _keyed(t, b)[["key", "row", b_start, b_end]].rename(
        columns={"row": "row_b", b_start: "start_b", b_end: "end_b"}
    )
    m = left[left["start_a"].notna()].merge(right[right["start_b"].notna()], on="key")
    if a == b:
        m = m[m["row_a"] != m["row_b"]]
    if m.empty or t.reference_date is None:
        return m.iloc[0:0]
    before_end = (m["start_a"] <= m["end_b"]) if end_inclusive else (m["start_a"] < m["end_b"])
    still_open = m["end_b"].isna() & (m["start_a"] <= t.reference_date)
    return m[(m["start_a"] >= m["start_b"]) & ((m["end_b"].notna() & before_end) | still_open)]


@check("4014")
def _plans_overlap(t: Tables) -> list[Hit]:
    pairs = _starts_within(
        t, "plans", "CINPlanStartDate", "plans", "CINPlanStartDate", "CINPlanEndDate", end_inclusive=True
    )
    return _pair_hits(pairs, ("plans", "CINPlanStartDate"), ("plans", "CINPlanEndDate"))


@check("8940")
def _cpps_overlap(t: Tables) -> list[Hit]:
    pairs = _starts_within(t, "cpp", "CPPstartDate", "cpp", "CPPstartDate", "CPPendDate", end_inclusive=True)
    return _pair_hits(pairs, ("cpp", "CPPstartDate"), ("cpp", "CPPendDate"))


@check("4017")
def _cpp_during_plan(t: Tables) -> list[Hit]:
    pairs = _starts_within(t, "cpp", "CPPstartDate", "plans", "CINPlanStartDate", "CINPlanEndDate", end_inclusive=False)
    return _pair_hits(pairs, ("cpp", "CPPstartDate"), ("plans", "CINPlanStartDate"))


@check("8820")
def _episodes_overlap(t: Tables) -> list[Hit]:
    """An episode starting within another of the child's: before its closure, or (when it is open and
    not a no-further-action referral) before the reference date."""
    c = _keyed(t, "cin")
    left = c[["key", "row", "CINreferralDate"]].rename(columns={"row": "row_a", "CINreferralDate": "start_a"})
    right = c[["key", "row", "CINreferralDate", "CINclosureDate", "ReferralNFA"]].rename(
        columns={"row": "row_b", "CINreferralDate": "start_b", "CINclosureDate": "end_b"}
    )
    m = left[left["start_a"].notna()].merge(right[right["start_b"].notna()], on="key")
    m = m[m["row_a"] != m["row_b"]]
    if m.empty or t.reference_date is None:
        return []
    not_nfa = m["ReferralNFA"].fillna("").str.strip().str.lower().isin({"false", "0"})
    before_end = m["end_b"].notna() & (m["start_a"] < m["end_b"])
    still_open = m["end_b"].isna() & not_nfa & (m["start_a"] < t.reference_date)
    pairs = m[(m["start_a"] >= m["start_b"]) & (before_end | still_open)]
    return _pair_hits(pairs, ("cin", "CINreferralDate"), ("cin", "CINclosureDate"))


@check("4001")
def _plan_and_cpp_both_open(t: Tables) -> list[Hit]:
    """Within one episode, an open child protection plan and an open CIN plan."""
    cpp = t["cpp"].reset_index(drop=True).assign(row_a=lambda d: np.arange(len(d)))
    plans = t["plans"].reset_index(drop=True).assign(row_b=lambda d: np.arange(len(d)))
    m = cpp[cpp["CPPendDate"].isna()].merge(
        plans[plans["CINPlanStartDate"].notna() & plans["CINPlanEndDate"].isna()], on="cin"
    )
    return _pair_hits(m, ("cpp", "CPPendDate"), ("plans", "CINPlanEndDate"))


@check("8606")
def _referral_long_before_birth(t: Tables) -> list[Hit]:
    """A referral more than 40 weeks (280 days) before the date of birth or expected date of birth."""
    c = _keyed(t, "cin")
    kids = _keyed(t, "children")
    m = (
        c[["key", "row", "CINreferralDate"]]
        .rename(columns={"row": "row_a"})
        .merge(
            kids[["key", "row", "PersonBirthDate", "ExpectedPersonBirthDate"]].rename(columns={"row": "row_b"}),
            on="key",
        )
    )
    weeks40 = pd.Timedelta(days=280)
    early = (m["CINreferralDate"] < m["PersonBirthDate"] - weeks40) | (
        m["CINreferralDate"] < m["ExpectedPersonBirthDate"] - weeks40
    )
    return _pair_hits(m[early], ("cin", "CINreferralDate"), ("children", "PersonBirthDate"))


@check("8867")
def _closed_with_open_assessment(t: Tables) -> list[Hit]:
    a = t["assessments"].reset_index(drop=True)
    closed = _parent(t, "assessments", "CINclosureDate").notna()
    mask = closed & a["AssessmentAuthorisationDate"].isna()
    return _with_parent(t, "assessments", mask, "AssessmentAuthorisationDate", "CINclosureDate")


@check("8868")
def _closed_with_open_s47(t: Tables) -> list[Hit]:
    """A closed episode's section 47 enquiry must have an initial conference date or 'not required', not both."""
    s = t["s47"].reset_index(drop=True)
    closed = _parent(t, "s47", "CINclosureDate").notna()
    not_required = s["ICPCnotRequired"].fillna("").str.strip().str.lower().isin({"1", "true"})
    held = s["DateOfInitialCPC"].notna()
    mask = closed & ((~held & ~not_required) | (held & not_required))
    return _with_parent(t, "s47", mask, "DateOfInitialCPC", "CINclosureDate")


@check("8875")
def _icpc_on_a_weekend(t: Tables) -> list[Hit]:
    return _hit("s47", t["s47"]["DateOfInitialCPC"].dt.weekday >= 5, "DateOfInitialCPC")


# -- work within one episode ----------------------------------------------------------------------


def _episode_key(t: Tables, table: str) -> pd.Series:
    """The episode a module row belongs to, as the census identifies it: child id and CINdetails number."""
    c = t["cin"]
    n = c.groupby("child").cumcount().to_numpy()
    key = _child_key(t, c).to_numpy()
    df = t[table]
    if table == "cin":
        return pd.Series(key + "/" + n.astype(str), index=df.index, dtype=object)
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    rows = df["cin"].to_numpy(dtype=np.int64)
    return pd.Series(key[rows] + "/" + n[rows].astype(str), index=df.index, dtype=object)


def _ongoing_pairs(t: Tables, table: str, start: str, end: str, open_too: pd.Series | None = None) -> pd.DataFrame:
    """Pairs of different records of one episode where one starts while the other is ongoing: on or after
    its start and on or before its end, or by the reference date when it has no end (and `open_too`)."""
    df = t[table].reset_index(drop=True)
    df = df.assign(row=np.arange(len(df)), key=_episode_key(t, table).to_numpy())
    df = df.assign(open_ok=True if open_too is None else open_too.to_numpy())
    df = df[df[start].notna()]
    m = df.merge(df, on="key", suffixes=("_a", "_b"))
    same_end = (m[f"{end}_a"] == m[f"{end}_b"]) | (m[f"{end}_a"].isna() & m[f"{end}_b"].isna())
    m = m[~((m[f"{start}_a"] == m[f"{start}_b"]) & same_end)]  # itself, or an exact copy
    if m.empty or t.reference_date is None:
        return m.iloc[0:0].rename(columns={"row_a": "row_a", "row_b": "row_b"})
    begun = m[f"{start}_a"] >= m[f"{start}_b"]
    before_end = m[f"{end}_b"].notna() & (m[f"{start}_a"] <= m[f"{end}_b"])
    still_open = m[f"{end}_b"].isna() & m["open_ok_b"] & (m[f"{start}_a"] <= t.reference_date)
    return m[begun & (before_end | still_open)]


@check("8863Q")
def _assessment_during_assessment(t: Tables) -> list[Hit]:
    pairs = _ongoing_pairs(t, "assessments", "AssessmentActualStartDate", "AssessmentAuthorisationDate")
    return _pair_hits(
        pairs, ("assessments", "AssessmentActualStartDate"), ("assessments", "AssessmentAuthorisationDate")
    )


@check("8890")
def _s47_during_s47(t: Tables) -> list[Hit]:
    s = t["s47"]
    not_required = s["ICPCnotRequired"].fillna("").str.strip().str.lower().isin({"1", "true"})
    pairs = _ongoing_pairs(t, "s47", "S47ActualStartDate", "DateOfInitialCPC", open_too=~not_required)
    return _pair_hits(pairs, ("s47", "S47ActualStartDate"), ("s47", "DateOfInitialCPC"))


@check("8896")
def _two_open_assessments(t: Tables) -> list[Hit]:
    """Two or more assessments of one episode without an authorisation date: the episode's assessments."""
    a = t["assessments"]
    key = _episode_key(t, "assessments")
    open_counts = key[a["AssessmentAuthorisationDate"].isna()].value_counts()
    return _hit("assessments", key.isin(open_counts[open_counts > 1].index), "AssessmentAuthorisationDate")


@check("8839")
def _two_open_s47s(t: Tables) -> list[Hit]:
    """Two or more section 47 enquiries of one episode with neither a conference date nor 'not required'."""
    s = t["s47"]
    key = _episode_key(t, "s47")
    not_required = s["ICPCnotRequired"].fillna("").str.strip().str.lower().isin({"1", "true"})
    is_open = s["DateOfInitialCPC"].isna() & ~not_required
    counts = key[is_open].value_counts()
    return _hit("s47", is_open & key.isin(counts[counts > 1].index), "DateOfInitialCPC")


@check("8816")
def _open_episode_not_latest(t: Tables) -> list[Hit]:
    """An open episode (not a no-further-action referral) that is not the child's latest referral; the
    latest is marked too."""
    c = t["cin"].reset_index(drop=True).assign(key=_child_key(t, t["cin"]).to_numpy())
    c = c.assign(row=np.arange(len(c)))
    dated = c[c["CINreferralDate"].notna()]
    if dated.empty:
        return []
    latest = dated.loc[dated.groupby("key")["CINreferralDate"].idxmax()].set_index("key")["row"]
    nfa_flag = dated["ReferralNFA"].fillna("").str.strip().str.lower()
    open_ = dated[dated["CINclosureDate"].isna() & nfa_flag.isin({"false", "0"})]
    bad = open_[open_["row"].to_numpy() != latest.reindex(open_["key"]).to_numpy()]
    rows = set(bad["row"]) | set(latest.reindex(bad["key"]).dropna().astype(int))
    return [Hit("cin", tuple(sorted(int(r) for r in rows)), "CINreferralDate")] if rows else []


@check("2884")
def _icpc_recorded_twice(t: Tables) -> list[Hit]:
    """The same initial conference date at CINdetails level and in a section 47 enquiry of the child."""
    c = _keyed(t, "cin")[["key", "row", "DateOfInitialCPC"]].rename(columns={"row": "row_b"})
    s = _keyed(t, "s47")[["key", "row", "DateOfInitialCPC"]].rename(columns={"row": "row_a"})
    m = s.merge(c, on=["key", "DateOfInitialCPC"])
    m = m[m["DateOfInitialCPC"].notna()]
    return _pair_hits(m, ("s47", "DateOfInitialCPC"), ("cin", "DateOfInitialCPC"))


@check("8815")
def _two_open_episodes(t: Tables) -> list[Hit]:
    """A child with more than one open episode that is not a no-further-action referral: every open episode."""
    c = t["cin"]
    key = _child_key(t, c)
    is_open = c["CINclosureDate"].isna()
    not_nfa = c["ReferralNFA"].fillna("").str.strip().str.lower().isin({"false", "0"})
    counts = key[is_open & not_nfa].value_counts()
    return _hit("cin", is_open & key.isin(counts[counts > 1].index), "CINclosureDate")


@check("2885")
def _cpp_not_on_conference_day(t: Tables) -> list[Hit]:
    """A plan starting in the year must start on the day of an initial conference of its episode: one held in
    a section 47 enquiry when the episode has any (other than 'not required'), else the CINdetails one."""
    if t.period is None:
        return []
    start, end = t.period
    cpp = t["cpp"].reset_index(drop=True)
    cpp = cpp.assign(row=np.arange(len(cpp)), ep=_episode_key(t, "cpp").to_numpy())
    cpp = cpp[cpp["CPPstartDate"].notna() & (cpp["CPPstartDate"] >= start) & (cpp["CPPstartDate"] <= end)]
    s = t["s47"].reset_index(drop=True)
    s = s.assign(row=np.arange(len(s)), ep=_episode_key(t, "s47").to_numpy())
    s = s[s["ICPCnotRequired"].fillna("").str.strip() != "1"]
    c = t["cin"].reset_index(drop=True)
    c = c.assign(row=np.arange(len(c)), ep=_episode_key(t, "cin").to_numpy())
    bad_cpp: set[int] = set()
    bad_s47: set[int] = set()
    bad_cin: set[int] = set()
    with_s47 = set(s["ep"])
    for ep, plans in cpp.groupby("ep"):
        if ep in with_s47:
            dates = set(s.loc[s["ep"] == ep, "DateOfInitialCPC"].dropna())
            matched = plans["CPPstartDate"].isin(dates)
            bad_cpp |= {int(r) for r in plans.loc[~matched, "row"]}
            if not matched.any():
                bad_s47 |= {int(r) for r in s.loc[s["ep"] == ep, "row"]}
        else:
            conference = c.loc[c["ep"] == ep, "DateOfInitialCPC"]
            matched = plans["CPPstartDate"].isin(set(conference.dropna()))
            bad_cpp |= {int(r) for r in plans.loc[~matched, "row"]}
            if not matched.any():
                bad_cin |= {int(r) for r in c.loc[c["ep"] == ep, "row"]}
    out = [Hit("cpp", tuple(sorted(bad_cpp)), "CPPstartDate")] if bad_cpp else []
    out += [Hit("s47", tuple(sorted(bad_s47)), "DateOfInitialCPC")] if bad_s47 else []
    return out + ([Hit("cin", tuple(sorted(bad_cin)), "DateOfInitialCPC")] if bad_cin else [])


@check("2883")
def _more_plans_than_conferences(t: Tables) -> list[Hit]:
    """More plans starting in the year than initial conferences held in it (CINdetails and section 47)."""
    if t.period is None:
        return []
    start, end = t.period

    def within(dates: pd.Series) -> int:
        return int(((dates >= start) & (dates <= end)).sum())

    plans = within(t["cpp"]["CPPstartDate"])
    conferences = within(t["cin"]["DateOfInitialCPC"]) + within(t["s47"]["DateOfInitialCPC"])
    return [Hit("cpp", (), "CPPstartDate", return_level=True)] if plans > conferences else []


@check("8873Q")
def _no_factors_but_not_closed_rc8(t: Tables) -> list[Hit]:
    """The only assessment of an episode has factor 21 (no factors identified), but the reason for closure
    is not RC8 or RC9."""
    a = t["assessments"].reset_index(drop=True)
    ep = _episode_key(t, "assessments")
    only = ~ep.duplicated(keep=False).to_numpy()
    no_factors = _factors(t).map(lambda x: any("21" in code for code in x)).to_numpy()
    reason = _parent(t, "assessments", "ReasonForClosure")
    mask = pd.Series(only & no_factors, index=a.index) & ~reason.isin({"RC8", "RC9"})
    return _with_parent(t, "assessments", mask, "AssessmentFactors", "ReasonForClosure")


DISABILITY = _codes("NONE MOB HAND PC INC COMM LD HEAR VIS BEH CON AUT DDA")


@check("8540")
def _disability(t: Tables) -> list[Hit]:
    """A born child with an episode that is not a no-further-action referral must have valid disability codes."""
    kids = t["children"]
    d = t["disabilities"]
    c = t["cin"]
    kid_key, d_key, c_key = _child_key(t, kids), _child_key(t, d), _child_key(t, c)
    acting = set(c_key[c["ReferralNFA"].fillna("").str.strip().str.lower().isin({"false", "0"})])
    invalid = ~d["Disability"].isin(DISABILITY)
    without = ~kid_key.isin(set(d_key))
    suspect = set(d_key[invalid]) | set(kid_key[without])
    bad = {k for k in suspect if k in acting} & set(kid_key[kids["PersonBirthDate"].notna()])
    hits = _hit("children", kid_key.isin(bad), "PersonBirthDate")
    hits += _hit("disabilities", invalid & d_key.isin(bad), "Disability")
    nfa_false = c["ReferralNFA"].fillna("").str.strip().str.lower().isin({"false", "0"})
    return hits + _hit("cin", c_key.isin(bad) & nfa_false, "ReferralNFA")


@check("2888Q")
def _one_disability_per_child(t: Tables) -> list[Hit]:
    d = t["disabilities"]
    coded = d[d["Disability"].notna() & (d["Disability"] != "NONE")]
    if coded.empty:
        return []
    per_child = _child_key(t, coded).value_counts()
    return [Hit("disabilities", (), "Disability", return_level=True)] if per_child.max() <= 1 else []


@check("8530Q")
def _expected_birth_in_range(t: Tables) -> list[Hit]:
    """An expected date of birth from a month before the reference date to nine months after it."""
    if t.reference_date is None:
        return []
    due = t["children"]["ExpectedPersonBirthDate"]
    early = t.reference_date - pd.DateOffset(days=30)
    late = t.reference_date + pd.DateOffset(months=9)
    return _hit("children", due.notna() & ((due >= late) | (due <= early)), "ExpectedPersonBirthDate")


@check("2886Q")
def _sex_unrecorded(t: Tables) -> list[Hit]:
    """More than 2% of the children other than unborn ones have no sex (or gender) recorded."""
    kids = t["children"]
    if kids.empty:
        return []
    if (t.year or 0) >= SEX_FROM:
        unrecorded = kids["Sex"].isna() | (kids["Sex"] == "U")
    else:
        unrecorded = kids["GenderCurrent"].isna() | (kids["GenderCurrent"] == "0")
    share = float((unrecorded & kids["ExpectedPersonBirthDate"].isna()).sum()) / len(kids)
    return [Hit("children", (), "Sex", return_level=True)] if share > 0.02 else []


@check("4004")
def _two_open_plans(t: Tables) -> list[Hit]:
    """Two or more CIN plans of one episode without an end date: the episode's plans."""
    p = t["plans"]
    key = _episode_key(t, "plans")
    counts = key[p["CINPlanEndDate"].isna()].value_counts()
    return _hit("plans", key.isin(counts[counts > 1].index), "CINPlanEndDate")


@check("8740")
def _open_s47_start_in_period(t: Tables) -> list[Hit]:
    """An enquiry with no conference by the year's end (and not 'not required') must start in the year."""
    s = t["s47"]
    required = s["ICPCnotRequired"].fillna("").str.strip().str.lower().isin({"false", "0"})
    return _hit(
        "s47", s["DateOfInitialCPC"].isna() & required & _outside(t, s["S47ActualStartDate"]), "S47ActualStartDate"
    )


@check("2991Q")
def _s47_without_assessment(t: Tables) -> list[Hit]:
    """A section 47 enquiry in an episode that has no assessment."""
    assessed = set(_episode_key(t, "assessments"))
    return _hit("s47", ~_episode_key(t, "s47").isin(assessed), "LAchildID")


@check("8590")
def _child_without_episode(t: Tables) -> list[Hit]:
    kids = t["children"]
    return _hit("children", ~_child_key(t, kids).isin(set(_child_key(t, t["cin"]))), "LAchildID")


def _after_death(t: Tables, table: str, column: str, *, strict: bool = True) -> list[Hit]:
    """Records of `table` dated (by `column`) after the child's date of death: the record and the child."""
    kids = _keyed(t, "children")
    died = kids[kids["PersonDeathDate"].notna()][["key", "row", "PersonDeathDate"]].rename(columns={"row": "row_b"})
    rows = _keyed(t, table)[["key", "row", column]].rename(columns={"row": "row_a"})
    m = rows.merge(died, on="key")
    late = m[column] > m["PersonDeathDate"] if strict else m[column] >= m["PersonDeathDate"]
    return _pair_hits(m[late], (table, column), ("children", "PersonDeathDate"))


@check("4008")
def _plan_starts_after_death(t: Tables) -> list[Hit]:
    return _after_death(t, "plans", "CINPlanStartDate")


@check("4009Q")
def _plan_ends_after_death(t: Tables) -> list[Hit]:
    return _after_death(t, "plans", "CINPlanEndDate")


@check("8555Q")
def _referred_after_death(t: Tables) -> list[Hit]:
    return _after_death(t, "cin", "CINreferralDate")


@check("8915")
def _cpp_starts_after_death(t: Tables) -> list[Hit]:
    return _after_death(t, "cpp", "CPPstartDate")


@check("8920")
def _cpp_ends_after_death(t: Tables) -> list[Hit]:
    return _after_death(t, "cpp", "CPPendDate")


@check("8535Q")
def _death_before_birth(t: Tables) -> list[Hit]:
    k = t["children"]
    died = k["PersonDeathDate"].notna()
    return _hit(
        "children",
        died & (k["PersonBirthDate"].isna() | (k["PersonBirthDate"] > k["PersonDeathDate"])),
        "PersonDeathDate",
    )


@check("8545Q")
def _death_in_period(t: Tables) -> list[Hit]:
    return _hit("children", _outside(t, t["children"]["PersonDeathDate"]), "PersonDeathDate")


@check("8585Q")
def _died_without_death_date(t: Tables) -> list[Hit]:
    """An episode closed as RC2 (the child died) for a child with no date of death: the episode and the child."""
    c = _keyed(t, "cin")
    kids = _keyed(t, "children")
    m = c[c["ReasonForClosure"] == "RC2"][["key", "row"]].rename(columns={"row": "row_a"})
    m = m.merge(kids[kids["PersonDeathDate"].isna()][["key", "row"]].rename(columns={"row": "row_b"}), on="key")
    return _pair_hits(m, ("cin", "ReasonForClosure"), ("children", "PersonDeathDate"))


PRIMARY_NEED = _codes("N0 N1 N2 N3 N4 N5 N6 N7 N8 N9")


@check("8610")
def _primary_need_missing(t: Tables) -> list[Hit]:
    c = t["cin"]
    acting = c["ReferralNFA"].fillna("").str.strip().str.lower().isin({"false", "0"})
    return _hit("cin", acting & c["PrimaryNeedCode"].isna(), "PrimaryNeedCode")


@check("8650")
def _primary_need_code(t: Tables) -> list[Hit]:
    need = t["cin"]["PrimaryNeedCode"]
    return _hit("cin", need.notna() & ~need.isin(PRIMARY_NEED), "PrimaryNeedCode")


@check("8775Q")
def _over_25(t: Tables) -> list[Hit]:
    """A child over 25 at the reference date with an episode open, or closed after the 25th birthday."""
    if t.reference_date is None:
        return []
    kids = _keyed(t, "children")
    old = kids[kids["PersonBirthDate"] < t.reference_date - pd.DateOffset(years=25)]
    m = _keyed(t, "cin")[["key", "row", "CINclosureDate"]].rename(columns={"row": "row_a"})
    m = m.merge(old[["key", "row", "PersonBirthDate"]].rename(columns={"row": "row_b"}), on="key")
    late = m["CINclosureDate"].isna() | (m["CINclosureDate"] > m["PersonBirthDate"] + pd.DateOffset(years=25))
    return _pair_hits(m[late], ("cin", "CINclosureDate"), ("children", "PersonBirthDate"))


# -- working days ---------------------------------------------------------------------------------


@cache
def _holidays() -> np.ndarray:
    text = resources.files(__package__).joinpath("bank_holidays.toml").read_text(encoding="utf-8")
    days = [d for year in tomllib.loads(text).values() for d in year]
    return np.array(sorted(days), dtype="datetime64[D]")


def _working_days_back(day: pd.Timestamp, n: int) -> pd.Timestamp:
    """The day `n` working days back from `day`, counting `day` itself (or, when it is a weekend or bank
    holiday, the next working day) as the first, as the public validator counts them."""
    start = np.datetime64(day.date(), "D")
    found = np.busday_offset(start, -(n - 1), roll="forward", holidays=_holidays())
    return pd.Timestamp(found)


@check("8569Q")
def _old_referral_flagged_nfa(t: Tables) -> list[Hit]:
    """A referral from before the collection year (more than one working day before its start) cannot be
    a no-further-action referral this year."""
    if t.period is None:
        return []
    c = t["cin"]
    cutoff = _working_days_back(t.period[0], 1)
    not_acting = ~c["ReferralNFA"].fillna("").str.strip().str.lower().isin({"false", "0"})
    return _hit("cin", (c["CINreferralDate"] < cutoff) & not_acting, "ReferralNFA")


@check("8670Q")
def _assessment_open_45_working_days(t: Tables) -> list[Hit]:
    a = t["assessments"]
    if t.reference_date is None:
        return []
    cutoff = _working_days_back(t.reference_date, 45)
    return _hit(
        "assessments",
        a["AssessmentAuthorisationDate"].isna() & (a["AssessmentActualStartDate"] < cutoff),
        "AssessmentActualStartDate",
    )


@check("8675Q")
def _s47_open_15_working_days(t: Tables) -> list[Hit]:
    s = t["s47"]
    if t.reference_date is None:
        return []
    cutoff = _working_days_back(t.reference_date, 15)
    required = s["ICPCnotRequired"].fillna("").str.strip().str.lower().isin({"false", "0"})
    late = s["DateOfInitialCPC"].isna() & required & (s["S47ActualStartDate"] < cutoff)
    return _hit("s47", late, "S47ActualStartDate")


@check("8870Q")
def _conference_target_on_a_weekend(t: Tables) -> list[Hit]:
    return _hit("s47", t["s47"]["InitialCPCtarget"].dt.weekday >= 5, "InitialCPCtarget")
