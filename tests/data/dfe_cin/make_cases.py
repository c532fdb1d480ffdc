"""Write `rule_cases_2024.xml` and `rule_cases_2025.xml`: fake CIN censuses with one child per rule case.

Every child is invented (ids CASEnn); each breaks one DfE rule that cscvault implements (or is valid),
so that the agreement test covers rules the public fixtures never trigger. Run from this folder:
`python make_cases.py`. The validator's verdicts on these files are in `verdicts/`.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent

ASSESSMENT = ("2023-06-02", "2023-06-20", ["1A"])  # start, authorised, factors: valid in 2023/24


def _el(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{value}</{name}>"


def _assessment(start: str | None, auth: str | None, factors: list[str] | None) -> str:
    block = ""
    if factors is not None:
        block = "<FactorsIdentifiedAtAssessment>" + "".join(_el("AssessmentFactors", f) for f in factors)
        block += "</FactorsIdentifiedAtAssessment>"
    return (
        f"<Assessments>{_el('AssessmentActualStartDate', start)}{_el('AssessmentAuthorisationDate', auth)}"
        f"{block}</Assessments>"
    )


def _plan(start: str | None, end: str | None) -> str:
    return f"<CINPlanDates>{_el('CINPlanStartDate', start)}{_el('CINPlanEndDate', end)}</CINPlanDates>"


def _s47(start: str | None, icpc: str | None, not_required: str = "false", target: str | None = None) -> str:
    return (
        f"<Section47>{_el('S47ActualStartDate', start)}{_el('InitialCPCtarget', target)}{_el('DateOfInitialCPC', icpc)}"
        f"{_el('ICPCnotRequired', not_required)}</Section47>"
    )


def _cpp(start: str | None, end: str | None, category: str | None = "NEG", previous: str | None = "0") -> str:
    return (
        f"<ChildProtectionPlans>{_el('CPPstartDate', start)}{_el('CPPendDate', end)}"
        f"{_el('InitialCategoryOfAbuse', category)}{_el('LatestCategoryOfAbuse', category)}"
        f"{_el('NumberOfPreviousCPP', previous)}</ChildProtectionPlans>"
    )


def _details(
    referral: str | None = "2023-06-01",
    source: str | None = "1A",
    closure: str | None = None,
    reason: str | None = None,
    nfa: str | None = "false",
    icpc: str | None = None,
    modules: str | None = None,
    need: str | None = "N1",
) -> str:
    if modules is None:
        modules = _assessment(*ASSESSMENT)
    return (
        f"<CINdetails>{_el('CINreferralDate', referral)}{_el('ReferralSource', source)}"
        f"{_el('PrimaryNeedCode', need)}{_el('CINclosureDate', closure)}{_el('ReasonForClosure', reason)}"
        f"{_el('DateOfInitialCPC', icpc)}{modules}{_el('ReferralNFA', nfa)}</CINdetails>"
    )


def _child(
    n: int,
    year: int,
    *,
    child_id: str | None = "",
    birth: str | None = "2015-05-01",
    expected: str | None = None,
    sex: str | None = "",
    ethnicity: str | None = "WBRI",
    disabilities: list[str] | None = None,
    details: list[str] | None = None,
    death: str | None = None,
) -> str:
    cid = f"CASE{n:02d}" if child_id == "" else child_id
    if sex == "":
        sex = "M" if year >= 2025 else "1"
    sex_el = _el("Sex" if year >= 2025 else "GenderCurrent", sex)
    dis = "".join(_el("Disability", d) for d in (["NONE"] if disabilities is None else disabilities))
    body = "".join(details if details is not None else [_details()])
    return (
        f"<Child><ChildIdentifiers>{_el('LAchildID', cid)}<UPNunknown>UN2</UPNunknown>"
        f"{_el('PersonBirthDate', birth)}{_el('ExpectedPersonBirthDate', expected)}{sex_el}"
        f"{_el('PersonDeathDate', death)}</ChildIdentifiers>"
        f"<ChildCharacteristics>{_el('Ethnicity', ethnicity)}<Disabilities>{dis}</Disabilities>"
        f"</ChildCharacteristics>{body}</Child>"
    )


def cases(year: int) -> list[dict[str, object]]:
    a = _assessment
    return [
        {},  # valid
        {"disabilities": ["MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS"]},  # valid: 8 codes (2887Q)
        {"child_id": None},  # 8500
        {"child_id": "DUP01"},  # 8510
        {"child_id": "DUP01"},
        {"child_id": "AVERYLONGCHILDID123456"},  # 1570 (2024/25 on)
        {"child_id": "BAD-ID"},  # 1580 (2024/25 on)
        {"birth": "2024-05-01"},  # 8520
        {"expected": "2024-06-01"},  # 8525Q (both dates)
        {"birth": None},  # 8525Q (neither)
        {"sex": "X"},  # 4180
        {"sex": None},  # 4180
        {"birth": None, "expected": "2024-06-01"},  # 8750
        {"ethnicity": "XXXX"},  # 4220
        {"ethnicity": None},  # 4220
        {"disabilities": ["NONE", "MOB"]},  # 8790
        {"disabilities": ["HAND", "HAND"]},  # 8794
        {"details": [_details(referral="2024-05-01")]},  # 8600
        {"details": [_details(referral=None)]},  # 8600
        {"details": [_details(referral="2021-06-01", closure="2022-12-01", reason="RC1", modules="")]},  # 8620
        {"details": [_details(referral="2023-08-01", closure="2023-07-01", reason="RC1", modules="")]},  # 8630
        {"details": [_details(closure="2023-10-01", reason="RC0")]},  # 8640
        {"details": [_details(closure="2023-10-01")]},  # 8805
        {"details": [_details(reason="RC1")]},  # 8810
        {"details": [_details(source="99")]},  # 8866
        {"details": [_details(nfa="maybe")]},  # 8568
        {"details": [_details(closure="2023-10-01", reason="RC8", modules=a(*ASSESSMENT) + _s47("2023-06-05", None))]},
        {"details": [_details(closure="2023-10-01", reason="RC9", modules="")]},  # 8825Q
        {"details": [_details(nfa="true")]},  # 8831
        {"details": [_details(closure="2023-07-01", reason="RC1", modules=a("2023-06-02", "2023-08-01", ["1A"]))]},
        {"details": [_details(modules=a("2023-05-01", "2023-06-20", ["1A"]))]},  # 1103
        {"details": [_details(modules=a("2023-07-01", "2023-06-20", ["1A"]))]},  # 8608
        {"details": [_details(modules=a("2023-06-02", "2024-05-01", ["1A"]))]},  # 8696
        {"details": [_details(referral="2022-12-01", modules=a("2023-01-01", None, None))]},  # 8736
        {"details": [_details(modules=a("2023-07-01", None, ["1A"]))]},  # 8614
        {"details": [_details(modules=a("2023-06-02", "2023-06-20", ["21", "1A"]))]},  # 8869
        {"details": [_details(modules=a("2023-06-02", "2023-06-20", None))]},  # 8897Q (no factors)
        {"details": [_details(modules=a("2023-06-02", "2023-06-20", ["ZZ"]))]},  # 8897Q (unknown factor)
        {"details": [_details(modules=a("2023-06-02", "2023-06-20", ["1A", "1A"]))]},  # 8898
        {"details": [_details(modules=a("2023-06-02", "2023-06-20", ["18A"]))]},  # 8945Q (2024/25 on)
        {"details": [_details(modules=a("2023-06-02", "2023-06-20", ["19A"]))]},  # 8950Q (2024/25 on)
        {"details": [_details(nfa="true", modules=_plan("2023-07-01", None))]},  # 4000
        {"details": [_details(modules=a(*ASSESSMENT) + _plan(None, "2023-09-01"))]},  # 4010
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-09-01", "2023-08-01"))]},  # 4011
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-09-01", "2023-09-01"))]},  # 4012Q
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-09-01", "2024-06-01"))]},  # 4013
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-05-01", None))]},  # 4015
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", None) + _plan("2023-08-01", None))]},
        {"details": [_details(modules=a(*ASSESSMENT) + _s47("2023-06-05", "2023-05-01"))]},  # 1104
        {"details": [_details(modules=a(*ASSESSMENT) + _s47("2023-05-01", "2023-06-10"))]},  # 2889
        {"details": [_details(modules=a(*ASSESSMENT) + _s47("2023-06-05", "2024-05-01"))]},  # 8715
        {"details": [_details(modules=a(*ASSESSMENT) + _s47(None, "2023-06-10"))]},  # 8615
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-05-01", None))]},  # 1105
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2024-05-01", None))]},  # 8720
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", None, previous=None))]},  # 8730
        {"details": [_details(nfa="true", modules=_cpp("2023-07-01", None))]},  # 8832
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", "2023-07-01"))]},  # 8840
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", None, category="XXX"))]},  # 8905
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-09-01", "2023-08-01"))]},  # 8925
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", "2024-05-01"))]},  # 8930
        {"details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", None) + _cpp("2023-08-01", None))]},
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-07-01", "2023-09-01") + _plan("2023-08-01", None))]},
        {
            "details": [
                _details(modules=a(*ASSESSMENT) + _cpp("2023-07-01", "2023-09-01") + _cpp("2023-08-01", "2023-10-01"))
            ]
        },
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-07-01", None) + _cpp("2023-08-01", "2023-09-01"))]},
        {"details": [_details(closure="2023-10-01", reason="RC1", modules=a("2023-06-02", None, None))]},  # 8867
        {  # 8820: the second episode starts before the first is closed
            "details": [
                _details(closure="2023-09-01", reason="RC1"),
                _details(
                    referral="2023-08-01",
                    closure="2023-10-01",
                    reason="RC1",
                    modules=a("2023-08-02", "2023-08-20", ["1A"]),
                ),
            ]
        },
        {"birth": "2024-03-01", "details": [_details(referral="2023-05-01")]},  # 8606
        {"details": [_details(closure="2023-10-01", reason="RC1", modules=a(*ASSESSMENT) + _s47("2023-06-05", None))]},
        {"details": [_details(modules=a(*ASSESSMENT) + a("2023-06-10", "2023-07-01", ["1A"]))]},  # 8863Q
        {"details": [_details(modules=a("2023-07-01", None, None) + a("2023-08-01", None, None))]},  # 8896
        {
            "details": [
                _details(modules=a(*ASSESSMENT) + _s47("2023-06-05", "2023-06-20") + _s47("2023-06-10", "2023-06-26"))
            ]
        },
        {"details": [_details(modules=a(*ASSESSMENT) + _s47("2023-06-05", None) + _s47("2023-07-05", None))]},  # 8839
        {
            "details": [_details(), _details(referral="2023-08-01", modules=a("2023-08-02", "2023-08-20", ["1A"]))]
        },  # 8816
        {"details": [_details(icpc="2023-06-12", modules=a(*ASSESSMENT) + _s47("2023-06-05", "2023-06-12"))]},  # 2884
        {"disabilities": ["XYZ"]},  # 8540 (invalid code)
        {"disabilities": []},  # 8540 (no code at all)
        {"birth": None, "expected": "2025-02-01", "sex": None},  # 8530Q (due too late)
        {"details": [_details(modules=a(*ASSESSMENT) + _plan("2023-07-01", None) + _plan("2023-08-01", None))]},  # 4004
        {"details": [_details(referral="2022-12-01", modules=_s47("2023-01-05", None, not_required="0"))]},  # 8740
        {"details": []},  # 8590
        {"death": "2023-07-15", "details": [_details(modules=a(*ASSESSMENT) + _plan("2023-08-01", "2023-09-01"))]},
        {"death": "2023-07-15", "details": [_details(modules=a(*ASSESSMENT) + _cpp("2023-08-01", "2023-09-01"))]},
        {"death": "2014-01-01"},  # 8535Q (and 8545Q, 8555Q)
        {"details": [_details(need=None)]},  # 8610
        {"details": [_details(need="N99")]},  # 8650
        {"birth": "1990-01-01"},  # 8775Q
        {
            "details": [_details(modules=a(*ASSESSMENT) + _s47("2023-06-05", "2023-06-09", target="2023-06-10"))]
        },  # 8870Q
    ]


def return_cases() -> list[dict[str, object]]:
    """Rules about the return as a whole: every child has at most one disability code (2888Q), fewer than
    eight codes are used (2887Q), more than 2% have no sex recorded (2886Q), and more plans start than
    conferences are held (2883)."""
    plan = _details(modules=_assessment(*ASSESSMENT) + _cpp("2023-07-01", None))
    return [{} for _ in range(6)] + [
        {"sex": "U"},
        {"disabilities": ["HAND"]},
        {"disabilities": ["HAND"], "details": [plan]},
    ]


def _shift(text: str, years: int) -> str:
    """Move every date by whole years, so one set of cases fits another census year."""
    return re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda m: f"{int(m[1]) + years}-{m[2]}-{m[3]}", text)


def document(year: int, kinds: list[dict[str, object]] | None = None, header_year: int | None = None) -> str:
    chosen = cases(year) if kinds is None else kinds
    children = "".join(_child(n, year, **kw) for n, kw in enumerate(chosen, 1))  # type: ignore[arg-type]
    children = _shift(children, year - 2024)  # the cases are written for 2023/24
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Message><Header><CollectionDetails><Collection>CIN</Collection>'
        f"<Year>{header_year or year}</Year><ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails>"
        "<Source><SourceLevel>L</SourceLevel><LEA>201</LEA><SoftwareCode>cscvault tests</SoftwareCode>"
        "<Release>1</Release><SerialNo>001</SerialNo><DateTime>2024-05-01T00:00:00</DateTime></Source></Header>"
        f"<Children>{children}</Children></Message>\n"
    )


if __name__ == "__main__":
    for y in (2024, 2025):
        (HERE / f"rule_cases_{y}.xml").write_text(document(y), encoding="utf-8")
    # Header Year one less than the reference date's: rule 100 too.
    (HERE / "return_cases_2025.xml").write_text(document(2025, return_cases(), header_year=2024), encoding="utf-8")
