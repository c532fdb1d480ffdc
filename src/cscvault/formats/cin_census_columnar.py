"""The columnar path of the CIN census reader: a file in exactly the census's own shape, read in Rust.

Most census files are machine-written in exactly the DfE's shape: every element in its place, no
comments, attributes, entities, empty elements or stray text. For those, xml2arrow (quick-xml, Rust)
reads every element at its schema position into Arrow columns in one pass; with the checks below the
file is read in under half the time of walking each child's elements in Python (1.9 s against 4.1 s
CPU for a 127 MB file). Anything else goes back to the element walk in
`cin_census.py`, which handles every oddity and reports it.

The decision is made from the bytes, not trusted from the parse:
- lxml (libxml2, no Python callbacks) must find the document well-formed, with the same parser
  settings as the walk, so a file is accepted or rejected exactly as before;
- every byte that is not whitespace must be accounted for by an element read at a schema position
  (its tags plus its text) or the XML declaration, and every `<` by those tags. An element anywhere
  else, an attribute, a comment, a CDATA section, an entity, an empty element or text between
  elements leaves bytes unaccounted, and the file takes the walk;
- one value per element in its record (a repeat takes the walk, which keeps the last);
- the header comes before the children (the walk checks element years against it).

The result is the walk's result: the same tables, values, locations, findings and quarantine, which
`tests/unit/formats/test_cin_census_columnar.py` checks on the public fixtures and synthetic files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from cscvault.formats.base import LOC

# The census's shape: container -> the leaves it holds, in the DfE's order. A leaf listed here is read
# (kept or not: a leaf that is not kept still has to be accounted for, and reported once).
HEADER: dict[str, tuple[str, ...]] = {
    "CollectionDetails": ("Collection", "Year", "ReferenceDate"),
    "Source": ("SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime"),
}
CHILD_PARTS: dict[str, tuple[str, ...]] = {
    "ChildIdentifiers": (
        "LAchildID",
        "UPN",
        "FormerUPN",
        "UPNunknown",
        "PersonBirthDate",
        "ExpectedPersonBirthDate",
        "GenderCurrent",
        "Sex",
        "PersonDeathDate",
    ),
    "ChildCharacteristics": ("Ethnicity",),
}
DETAIL_LEAVES = (
    "CINreferralDate",
    "ReferralSource",
    "PrimaryNeedCode",
    "CINclosureDate",
    "ReasonForClosure",
    "DateOfInitialCPC",
    "ReferralNFA",
)
MODULES: dict[str, tuple[str, ...]] = {
    "Assessments": ("AssessmentActualStartDate", "AssessmentInternalReviewDate", "AssessmentAuthorisationDate"),
    "CINPlanDates": ("CINPlanStartDate", "CINPlanEndDate"),
    "Section47": ("S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC", "ICPCnotRequired"),
    "ChildProtectionPlans": (
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
        "LatestCategoryOfAbuse",
        "NumberOfPreviousCPP",
    ),
    "PreProceedingsandFGDM": (
        "PPStartDate",
        "LBPSentDate",
        "FGDMMeetingOffer",
        "FGDMMeetingFac",
        "InitialPPMeetingDate",
        "ReviewMeetingsCount",
        "StepDecisionDate",
        "PPOutcome",
        "CourtAppDate",
        "LetterInitCPDate",
    ),
}
# Repeated leaves inside a wrapper: (record element, wrapper, leaf, table name).
LISTS = (
    ("ChildCharacteristics", "Disabilities", "Disability", "disabilities"),
    ("Assessments", "FactorsIdentifiedAtAssessment", "AssessmentFactors", "factors"),
    ("ChildProtectionPlans", "Reviews", "CPPreviewDate", "reviews"),
)

# Leaves the walk keeps: element -> (table, field). Module tables are named as in TABLE_COLUMNS.
_KEPT_CHILD = {
    "LAchildID": "la_child_id",
    "PersonBirthDate": "birth_month",
    "ExpectedPersonBirthDate": "expected_birth",
    "Ethnicity": "ethnicity",
}
_KEPT_DETAIL = {"CINreferralDate": "referral_date", "ReferralSource": "source", "ReferralNFA": "nfa"}
_KEPT_MODULE: dict[str, tuple[str, dict[str, str]]] = {
    "Assessments": (
        "assessments",
        {"AssessmentActualStartDate": "start_date", "AssessmentAuthorisationDate": "authorised_date"},
    ),
    "CINPlanDates": ("cin_plans", {"CINPlanStartDate": "start_date", "CINPlanEndDate": "end_date"}),
    "Section47": (
        "s47_enquiries",
        {"S47ActualStartDate": "start_date", "DateOfInitialCPC": "icpc_date", "ICPCnotRequired": "outcome"},
    ),
    "ChildProtectionPlans": (
        "cp_plans",
        {
            "CPPstartDate": "start_date",
            "CPPendDate": "end_date",
            "InitialCategoryOfAbuse": "category",
            "NumberOfPreviousCPP": "previous_cpps",
        },
    ),
    "PreProceedingsandFGDM": (
        "pre_proceedings",
        {"PPStartDate": "start_date", "StepDecisionDate": "end_date", "CourtAppDate": "issue_date"},
    ),
}

_ROOT = "/Message"
_CHILD = "/Message/Children/Child"
_DECL = re.compile(rb"\A(\xef\xbb\xbf)?(<\?xml\s[^>]*?\?>)?")
_UTF8_DECL = re.compile(rb"encoding\s*=\s*[\"'](utf-8|UTF-8|utf8|UTF8)[\"']")
_WHITESPACE = (b" ", b"\t", b"\n", b"\r")
# Files larger than this are streamed by the walk (the columnar path holds the file in memory).
MAX_COLUMNAR_BYTES = 512 * 1024**2

Screen = Callable[[str, str, str], "str | None"]


@dataclass
class Extract:
    """What the walk would have collected, read column-wise (values are screened text or None)."""

    header: dict[str, str] = field(default_factory=dict)  # stripped header values by element name
    n_children: int = 0
    # Elements seen, in order of first appearance: a leaf of a CINdetails or module as "Parent/Leaf".
    present: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "xml_path": path, "data_type": "Utf8", "nullable": True}


def config() -> dict[str, Any]:
    """The xml2arrow configuration (format version 1) for the shape above: one table per level.
    Version 1 ends a row whenever a configured child of the table's path closes, so `part` has one row
    per ChildIdentifiers, ChildCharacteristics or CINdetails, and `detail` one per leaf or module of a
    CINdetails; which one a row is follows from the columns it fills (see `_kinds`)."""
    detail = [_field(f"CINdetails/{leaf}", f"{_CHILD}/CINdetails/{leaf}") for leaf in DETAIL_LEAVES]
    for module, leaves in MODULES.items():
        detail += [_field(f"{module}/{leaf}", f"{_CHILD}/CINdetails/{module}/{leaf}") for leaf in leaves]
    tables: list[dict[str, Any]] = [
        {
            "name": "header",
            "xml_path": f"{_ROOT}/Header",
            "levels": [],
            "fields": [
                _field(f"{box}/{leaf}", f"{_ROOT}/Header/{box}/{leaf}")
                for box, leaves in HEADER.items()
                for leaf in leaves
            ],
        },
        {"name": "child", "xml_path": f"{_ROOT}/Children", "levels": ["child"], "fields": []},
        {
            "name": "part",
            "xml_path": _CHILD,
            "levels": ["child", "part"],
            "fields": [
                _field(f"{box}/{leaf}", f"{_CHILD}/{box}/{leaf}")
                for box, leaves in CHILD_PARTS.items()
                for leaf in leaves
            ],
        },
        {"name": "detail", "xml_path": f"{_CHILD}/CINdetails", "levels": ["child", "part", "item"], "fields": detail},
    ]
    for record, wrapper, leaf, name in LISTS:
        base = f"{_CHILD}/{record}" if record in CHILD_PARTS else f"{_CHILD}/CINdetails/{record}"
        levels = ["child", "part", "i"] if record in CHILD_PARTS else ["child", "part", "item", "i"]
        tables.append(
            {
                "name": name,
                "xml_path": f"{base}/{wrapper}",
                "levels": levels,
                "fields": [_field(leaf, f"{base}/{wrapper}/{leaf}")],
            }
        )
    # Names are matched as written: a prefixed element is not at a schema position, so its bytes are left
    # over and the file takes the walk (which reads namespaces). Stripping prefixes would cost 5-10 %.
    return {"parser_options": {"trim_text": False, "strip_namespaces": False}, "tables": tables}


CONFIG_FILE = "cin_census_columns.json"


@cache
def _parser() -> Any:
    from xml2arrow import XmlToArrowParser  # imported here: only ingest of a CIN census needs it

    path = resources.files("cscvault.formats").joinpath(CONFIG_FILE)
    with resources.as_file(path) as real:
        return XmlToArrowParser(str(real))


class _Nothing:
    """An lxml parser target with no callbacks: libxml2 checks the document without calling Python."""

    def close(self) -> None:
        return None


def _well_formed(data: bytes) -> bool:
    parser = etree.XMLParser(
        target=_Nothing(),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
    )
    try:
        etree.XML(data, parser)
    except (etree.XMLSyntaxError, OSError):  # lxml raises OSError for bytes invalid in the encoding
        return False
    return True


def _markup(name: str) -> int:
    """Non-whitespace bytes of `<name>` and `</name>`."""
    return 2 * len(name.encode()) + 5


def _text(values: pa.Array) -> bytes:
    """The bytes of all the values of a string array, end to end (nulls hold none)."""
    if values.null_count == len(values):
        return b""
    values = values.cast(pa.large_string())
    _, offsets_buffer, data = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])].tobytes()


class _Ledger:
    """Counts what the columns account for: element tags (`<` each), and non-whitespace bytes."""

    def __init__(self) -> None:
        self.elements = 0
        self.nonws = 0
        self.carriage_return = False

    def element(self, name: str, count: int = 1) -> None:
        self.elements += count
        self.nonws += count * _markup(name)

    def leaves(self, name: str, values: pa.Array) -> None:
        self.element(name, len(values) - values.null_count)
        text = _text(values)
        self.nonws += len(text.translate(None, b"".join(_WHITESPACE)))
        # XML turns CR LF into LF inside text, as lxml does for the walk; a value holding a CR takes the walk.
        if b"\r" in text:
            self.carriage_return = True


def _stripped(values: pa.Array) -> pa.Array:
    """As the walk reads text: stripped, empty -> null."""
    out = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)


def _strings(values: pa.Array) -> np.ndarray:
    return np.asarray(values.to_pandas(), dtype=object)


@dataclass(frozen=True)
class _Bytes:
    """What the byte check needs from a file's bytes."""

    head: bytes  # the first MiB: declaration, header, first elements
    size: int
    tags: int  # count of "<"
    nonws: int  # bytes other than space, tab, CR, LF

    @classmethod
    def of(cls, data: bytes) -> _Bytes:
        view = memoryview(data)
        drop = b"".join(_WHITESPACE)
        # In 8 MiB slices: `translate` copies what it keeps, and a whole-file copy would double the memory.
        nonws = sum(len(bytes(view[i : i + _CHUNK]).translate(None, drop)) for i in range(0, len(data), _CHUNK))
        return cls(bytes(view[: 1 << 20]), len(data), data.count(b"<"), nonws)


_CHUNK = 8 << 20


def extract(path: Path, screen: Screen) -> Extract | None:
    """The walk's result for a file in the census's exact shape; None when the file needs the walk.
    Nothing is screened (so nothing reaches the collector) until the file is known to fit."""
    if path.stat().st_size > MAX_COLUMNAR_BYTES:
        return None
    parsed = _parse(path)
    if parsed is None:
        return None
    counted, batches, bom, declaration = parsed
    shape = _Shape.check(counted, batches, bom, declaration)
    if shape is None:
        return None
    return shape.build(counted.head, screen)


def _parse(path: Path) -> tuple[_Bytes, dict[str, pa.RecordBatch], bytes | None, bytes | None] | None:
    """The file read once into memory (parsed from there by lxml and by xml2arrow without a copy) and
    released on return, before the columns are checked and built: its bytes and columns never peak together
    with the staged tables."""
    data = path.read_bytes()
    counted = _Bytes.of(data)
    decl = _DECL.match(counted.head)
    assert decl is not None  # the pattern matches the empty string
    bom, declaration = decl.group(1), decl.group(2)
    if declaration is not None and b"encoding" in declaration and not _UTF8_DECL.search(declaration):
        return None
    header_at, children_at = counted.head.find(b"<Header"), counted.head.find(b"<Children")
    if children_at < 0 or header_at > children_at:
        return None
    if not _well_formed(data):
        return None  # the walk reports where
    from xml2arrow import Xml2ArrowError

    try:
        batches = _parser().parse(data)
    except Xml2ArrowError:
        return None  # an element repeated in one record, most often: the walk keeps the last
    return counted, batches, bom, declaration


def _key(child: np.ndarray, part: np.ndarray, item: np.ndarray | None = None) -> np.ndarray:
    """One int64 per (child, part[, item]): ordered as the document is."""
    key = (child.astype(np.int64) << _PART_BITS) | part.astype(np.int64)
    if item is not None:
        key = (key << _ITEM_BITS) | item.astype(np.int64)
    return key


_PART_BITS = 20
_ITEM_BITS = 20


def _levels_fit(batches: dict[str, pa.RecordBatch]) -> bool:
    for batch in batches.values():
        for name in ("<part>", "<item>"):
            if name in batch.schema.names and batch.num_rows and pc.max(batch.column(name)).as_py() >= 1 << 20:
                return False
    return True


@dataclass
class _Shape:
    """The checked columns of one file: which row is which element, and that nothing else is there."""

    batches: dict[str, pa.RecordBatch]
    n: int
    is_ids: np.ndarray
    is_chars: np.ndarray
    is_details: np.ndarray
    leaf_valid: dict[str, np.ndarray]
    module_valid: dict[str, np.ndarray]
    present: dict[str, None]
    header: dict[str, str]

    @classmethod
    def check(
        cls, counted: _Bytes, batches: dict[str, pa.RecordBatch], bom: bytes | None, declaration: bytes | None
    ) -> _Shape | None:
        if not _levels_fit(batches):
            return None
        ledger = _Ledger()
        ledger.element("Message")
        ledger.element("Children")
        present: dict[str, None] = {}

        def seen(name: str, count: int) -> None:
            if count > 0:
                present[name] = None

        # The header: each row one CollectionDetails or Source, each at most once.
        header_values: dict[str, str] = {}
        header = batches["header"]
        if header.num_rows:
            ledger.element("Header")
            owner = np.zeros(header.num_rows, dtype=int)
            for box, leaves in HEADER.items():
                cols = [header.column(f"{box}/{leaf}") for leaf in leaves]
                rows = _valid_mask(cols)
                if rows.sum() > 1:
                    return None
                owner += rows
                ledger.element(box, int(rows.sum()))
                for leaf, col in zip(leaves, cols, strict=True):
                    ledger.leaves(leaf, col)
                    value = next((v for v in col.to_pylist() if v is not None), None)
                    if value is not None:
                        header_values[leaf] = value.strip()
            if np.any(owner != 1):
                return None

        # The children's parts: each row one ChildIdentifiers, ChildCharacteristics or CINdetails.
        part = batches["part"]
        p_child = part.column("<child>").to_numpy()
        n = int(p_child.max()) + 1 if len(p_child) else 0
        if n and (np.any(np.diff(p_child.astype(np.int64)) < 0) or len(_distinct(p_child)) != n):
            return None  # a Child with no parts, or a second Children
        ledger.element("Child", n)
        part_key = _key(p_child, part.column("<part>").to_numpy())
        detail = batches["detail"]
        d_part_key = _key(detail.column("<child>").to_numpy(), detail.column("<part>").to_numpy())
        dis = batches["disabilities"]
        dis_parts = _distinct(_key(dis.column("<child>").to_numpy(), dis.column("<part>").to_numpy()))
        ids_cols = [part.column(f"ChildIdentifiers/{leaf}") for leaf in CHILD_PARTS["ChildIdentifiers"]]
        eth = part.column("ChildCharacteristics/Ethnicity")
        is_ids = _valid_mask(ids_cols)
        is_chars = eth.is_valid().to_numpy(zero_copy_only=False) | _member(part_key, dis_parts)
        is_details = _member(part_key, _distinct(d_part_key))
        if np.any(is_ids.astype(int) + is_chars + is_details != 1):
            return None  # an empty part, or one that cannot be placed
        if np.any(np.bincount(p_child[is_ids], minlength=n) > 1) or np.any(
            np.bincount(p_child[is_chars], minlength=n) > 1
        ):
            return None  # ChildIdentifiers or ChildCharacteristics twice: the walk merges them
        for name, mask in (
            ("ChildIdentifiers", is_ids),
            ("ChildCharacteristics", is_chars),
            ("CINdetails", is_details),
        ):
            ledger.element(name, int(mask.sum()))
        for leaf, col in zip(CHILD_PARTS["ChildIdentifiers"], ids_cols, strict=True):
            ledger.leaves(leaf, col)
            seen(leaf, len(col) - col.null_count)
        genders = [part.column("ChildIdentifiers/GenderCurrent"), part.column("ChildIdentifiers/Sex")]
        if pc.any(pc.and_(genders[0].is_valid(), genders[1].is_valid())).as_py():
            return None  # whichever comes first wins in the walk
        ledger.leaves("Ethnicity", eth)
        if dis.num_rows:
            if dis.column("Disability").null_count:
                return None
            ledger.element("Disabilities", len(dis_parts))
            ledger.leaves("Disability", dis.column("Disability"))

        # CINdetails: each row one leaf or one module.
        dcols = {name: detail.column(name) for name in detail.schema.names if not name.startswith("<")}
        item_key = _key(
            detail.column("<child>").to_numpy(), detail.column("<part>").to_numpy(), detail.column("<item>").to_numpy()
        )
        leaf_valid = {
            leaf: dcols[f"CINdetails/{leaf}"].is_valid().to_numpy(zero_copy_only=False) for leaf in DETAIL_LEAVES
        }
        module_valid = {m: _valid_mask([dcols[f"{m}/{leaf}"] for leaf in leaves]) for m, leaves in MODULES.items()}
        for record, wrapper, leaf, name in LISTS:
            t = batches[name]
            if record not in MODULES or not t.num_rows:
                continue
            if t.column(leaf).null_count:
                return None
            keys = _distinct(
                _key(t.column("<child>").to_numpy(), t.column("<part>").to_numpy(), t.column("<item>").to_numpy())
            )
            module_valid[record] = module_valid[record] | _member(item_key, keys)
            ledger.element(wrapper, len(keys))
            ledger.leaves(leaf, t.column(leaf))
            seen(wrapper, len(keys))
            seen(leaf, t.num_rows)
        if len(item_key):
            kinds = sum(v.astype(int) for v in leaf_valid.values()) + sum(v.astype(int) for v in module_valid.values())
            if np.any(kinds != 1):
                return None
        for leaf, valid in leaf_valid.items():
            keys = d_part_key[valid]
            if len(keys) > 1 and np.any(keys[1:] == keys[:-1]):
                return None  # a leaf twice in one CINdetails: the walk keeps the last
            ledger.leaves(leaf, dcols[f"CINdetails/{leaf}"])
            seen("CINdetails/DateOfInitialCPC" if leaf == "DateOfInitialCPC" else leaf, int(valid.sum()))
        for module, leaves in MODULES.items():
            ledger.element(module, int(module_valid[module].sum()))
            seen(module, int(module_valid[module].sum()))
            for leaf in leaves:
                ledger.leaves(leaf, dcols[f"{module}/{leaf}"])
                seen(f"{module}/{leaf}", len(dcols[f"{module}/{leaf}"]) - dcols[f"{module}/{leaf}"].null_count)

        # The bytes: every tag and every non-whitespace byte accounted for.
        if ledger.carriage_return or counted.tags != 2 * ledger.elements + (1 if declaration else 0):
            return None
        nonws = counted.nonws
        accounted = ledger.nonws + (len(bom) if bom else 0)
        if declaration:
            accounted += len(declaration) - sum(declaration.count(ws) for ws in _WHITESPACE)
        if nonws != accounted:
            return None
        return cls(batches, n, is_ids, is_chars, is_details, leaf_valid, module_valid, present, header_values)

    def build(self, head: bytes, screen: Screen) -> Extract:
        b = self.batches
        n = self.n
        part, detail = b["part"], b["detail"]
        p_child = part.column("<child>").to_numpy()
        p_part = part.column("<part>").to_numpy()
        child_loc = _locs("/Message/Children/Child[", np.arange(1, n + 1), "]")

        # One record per child.
        kid: dict[str, np.ndarray] = {}
        ids = np.flatnonzero(self.is_ids)
        ids_take = pa.array(ids)
        for leaf, name in _KEPT_CHILD.items():
            if leaf == "Ethnicity":
                continue
            kid[name] = _per_child(_stripped(part.column(f"ChildIdentifiers/{leaf}").take(ids_take)), p_child[ids], n)
        genders = [_stripped(part.column(f"ChildIdentifiers/{g}").take(ids_take)) for g in ("GenderCurrent", "Sex")]
        kid["gender"] = _per_child(pc.coalesce(*genders), p_child[ids], n)
        chars = np.flatnonzero(self.is_chars)
        kid["ethnicity"] = _per_child(
            _stripped(part.column("ChildCharacteristics/Ethnicity").take(pa.array(chars))), p_child[chars], n
        )
        for name in ("la_child_id", "gender", "ethnicity", "birth_month", "expected_birth"):
            kid[name] = _screen(kid[name], child_loc, name, screen)
        kid["disability"] = np.full(n, None, dtype=object)
        dis = b["disabilities"]
        if dis.num_rows:
            kid["disability"] = _disability(
                _stripped(dis.column("Disability")), dis.column("<child>").to_numpy(), n, child_loc, screen
            )
        tables: dict[str, dict[str, np.ndarray]] = {
            "children": {LOC: child_loc, **kid, "uasc": np.full(n, None, dtype=object)}
        }

        # Referrals, numbered within their child.
        refs = np.flatnonzero(self.is_details)
        ref_child = p_child[refs]
        ref_loc = _join(child_loc[ref_child], _locs("/CINdetails[", _rank_within(ref_child), "]"))
        ref_keys = _key(ref_child, p_part[refs])
        d_ref = np.searchsorted(ref_keys, _key(detail.column("<child>").to_numpy(), detail.column("<part>").to_numpy()))
        ref: dict[str, np.ndarray] = {LOC: ref_loc, "la_child_id": kid["la_child_id"][ref_child]}
        for leaf, name in _KEPT_DETAIL.items():
            valid = self.leaf_valid[leaf]
            values = np.full(len(refs), None, dtype=object)
            values[d_ref[valid]] = _strings(_stripped(detail.column(f"CINdetails/{leaf}").filter(pa.array(valid))))
            ref[name] = _screen(values, ref_loc, name, screen)
        ref["birth_month"] = kid["birth_month"][ref_child]
        tables["referrals"] = ref

        # Module records, numbered within their referral by element name.
        item_key = _key(
            detail.column("<child>").to_numpy(), detail.column("<part>").to_numpy(), detail.column("<item>").to_numpy()
        )
        for module, (table, kept) in _KEPT_MODULE.items():
            rows = np.flatnonzero(self.module_valid[module])
            if not len(rows):
                continue
            owner = d_ref[rows]
            loc = _join(ref_loc[owner], _locs(f"/{module}[", _rank_within(owner), "]"))
            rec: dict[str, np.ndarray] = {
                LOC: loc,
                "la_child_id": ref["la_child_id"][owner],
                "referral_date": ref["referral_date"][owner],
                "birth_month": ref["birth_month"][owner],
            }
            take = pa.array(rows)
            for leaf, name in kept.items():
                rec[name] = _screen(
                    _strings(_stripped(detail.column(f"{module}/{leaf}").take(take))), loc, name, screen
                )
            if module == "Assessments":
                rec["factors"] = _factors(b["factors"], item_key[rows], loc, screen)
            court = rec.pop("issue_date", None)
            tables[table] = rec
            if court is not None:
                has = np.array([c is not None for c in court], dtype=bool)
                if has.any():
                    tables["care_proceedings"] = {
                        LOC: loc[has],
                        "la_child_id": rec["la_child_id"][has],
                        "birth_month": rec["birth_month"][has],
                        "issue_date": court[has],
                    }
        return Extract(
            header=self.header,
            n_children=n,
            present=sorted(self.present, key=lambda name: _first_at(head, name)),
            tables={name: cols for name, cols in tables.items() if len(cols[LOC])},
        )


# -- helpers ------------------------------------------------------------------------------------------------


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of keys already in document (ascending) order."""
    if len(keys) < 2:
        return keys
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def _member(keys: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """Which keys are in `distinct` (ascending)."""
    if not len(distinct):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(distinct, keys), len(distinct) - 1)
    return np.asarray(distinct[at] == keys)


def _valid_mask(cols: list[pa.Array]) -> np.ndarray:
    mask = np.zeros(len(cols[0]), dtype=bool)
    for c in cols:
        mask |= c.is_valid().to_numpy(zero_copy_only=False)
    return mask


def _per_child(values: pa.Array, child: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    out[child] = _strings(values)
    return out


def _locs(prefix: str, numbers: np.ndarray, suffix: str) -> np.ndarray:
    text = pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), suffix, "")
    return _strings(text)


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(np.asarray(a, dtype=object) + np.asarray(b, dtype=object), dtype=object)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """1-based position of each element among the equal values before it (groups are contiguous)."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, groups[1:] != groups[:-1]]
    idx = np.arange(len(groups))
    first = np.maximum.accumulate(np.where(starts, idx, 0))
    return idx - first + 1


def _screen(values: np.ndarray, locs: np.ndarray, name: str, screen: Screen) -> np.ndarray:
    """The walk screens a value that is long (200+) or starts like a formula; the rest pass as they are."""
    arr = pa.array(values, type=pa.string())
    flagged = pc.or_(pc.greater_equal(pc.utf8_length(arr), 200), pc.match_substring_regex(arr, r"^[=+\-@]")).fill_null(
        False
    )
    rows = np.flatnonzero(flagged.to_numpy(zero_copy_only=False))
    if len(rows):
        values = values.copy()
        for i in rows:
            values[i] = screen(values[i], str(locs[i]), name)
    return values


def _disability(values: pa.Array, child: np.ndarray, n: int, child_loc: np.ndarray, screen: Screen) -> np.ndarray:
    """Per child: the first code other than NONE, else the first (empty codes are skipped)."""
    screened = _screen(_strings(values), child_loc[child], "disability", screen)
    out = np.full(n, None, dtype=object)
    for c, v in zip(child[::-1].tolist(), screened[::-1].tolist(), strict=True):
        if v:
            out[c] = v  # walking backwards, the first value wins
    for c, v in zip(child[::-1].tolist(), screened[::-1].tolist(), strict=True):
        if v and v.upper() != "NONE":
            out[c] = v
    return out


def _factors(table: pa.RecordBatch, keys: np.ndarray, loc: np.ndarray, screen: Screen) -> np.ndarray:
    """Per assessment: its factor codes joined by commas, in document order (empty codes skipped)."""
    out = np.full(len(keys), None, dtype=object)
    if not table.num_rows:
        return out
    pos = np.searchsorted(
        keys,
        _key(table.column("<child>").to_numpy(), table.column("<part>").to_numpy(), table.column("<item>").to_numpy()),
    )
    values = _screen(_strings(_stripped(table.column("AssessmentFactors"))), loc[pos], "factors", screen)
    codes = pa.table({"pos": pos, "code": pa.array(values, type=pa.string())}).filter(
        pc.invert(pc.equal(pc.fill_null(pa.array(values, type=pa.string()), ""), ""))
    )
    # One thread keeps each list in the order of its rows (the document's).
    grouped = codes.group_by("pos", use_threads=False).aggregate([("code", "list")])
    out[grouped.column("pos").to_numpy()] = _strings(pc.binary_join(grouped.column("code_list"), ","))
    return out


def _first_at(head: bytes, name: str) -> int:
    """Where an element first appears in the file's first MiB (later ones keep the order found)."""
    tag = name.rsplit("/", 1)[-1]
    at = head.find(b"<" + tag.encode() + b">")
    return at if at >= 0 else len(head)


def write_config(path: str) -> None:
    """Regenerate the shipped configuration (`python -c "...write_config('src/.../cin_census_columns.json')"`)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(config(), fh, indent=1)
        fh.write("\n")
