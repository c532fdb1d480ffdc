"""Identifier screening: columns that identify people are dropped by name; values that look like
identifiers inside allowed fields are found so the caller can quarantine them.

Pure functions. Nothing here returns or prints a value: callers get kinds and rule ids.
"""

from __future__ import annotations

import re

from cscvault.formats.base import normalise_label

# -- columns -------------------------------------------------------------------------------------

# (kind, patterns on the normalised column label). Order matters: the first match wins.
_COLUMN_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("an NHS number", (r"\bnhs\b", r"\bchi number\b")),
    (
        "a UPN",
        (
            r"\bupn\b",
            r"\bformer ?upn\b",
            r"unique pupil number",
            r"\buln\b",
            r"unique learner number",
            r"\buniquelearnernumber\b",
            r"\bformerupn\b",
        ),
    ),
    ("a postcode", (r"\bpost ?code\b", r"\bhome post\b", r"\bpl post\b", r"\bpostcode\b", r"\bzip\b")),
    (
        "an address",
        (
            r"\baddress\b",
            r"\bstreet\b",
            r"\btown\b",
            r"\bhouse\b",
            r"\buprn\b",
            r"\baddressline",
            r"\bmissingaddress\b",
        ),
    ),
    (
        "a name",
        (
            r"\b(sur|fore|first|last|given|family|middle|preferred|former)? ?names?\b",
            r"\bsurname\b",
            r"\bforename\b",
            r"\bmiddlenames\b",
            r"\bpreferredsurname\b",
            r"\bformersurname\b",
            r"\bmother\b",
            r"\bfather\b",
            r"\bcarer\b",
            r"\bsocial worker\b",
            r"\bsw id\b",
            r"\bworker\b",
        ),
    ),
    (
        "free text",
        (
            r"\bnotes?\b",
            r"\bcomments?\b",
            r"\bfree ?text\b",
            r"\bdescription\b",
            r"\bnarrative\b",
            r"\bdetails?\b$",
            r"\bremarks?\b",
            r"\bcase ?notes?\b",
        ),
    ),
    ("a contact detail", (r"\be ?mail\b", r"\bphone\b", r"\btelephone\b", r"\bmobile\b", r"\btel\b")),
    (
        "another personal identifier",
        (
            r"\bnational insurance\b",
            r"\bni number\b",
            r"\bpassport\b",
            r"\bhome office\b",
            r"\bnativeid\b",
            r"\burn\b",
            r"\bmc dob\b",
        ),
    ),
)

_DOB = (
    r"\bdob\b",
    r"date of birth",
    r"\bbirth ?date\b",
    r"month of birth",
    r"\bpersonbirthdate\b",
    r"birth month",
    r"year and month of birth",
    r"\bexpected ?(person)? ?birth ?date\b",
    r"\bdate ?birth\b",
)

_COMPILED = tuple((kind, tuple(re.compile(p) for p in pats)) for kind, pats in _COLUMN_KINDS)
_DOB_RE = tuple(re.compile(p) for p in _DOB)


def _label(column: str) -> str:
    # Split CamelCase and snake_case so 'PersonBirthDate' and 'HOME_POST' compare like prose.
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", column)
    return normalise_label(spaced)


def is_birth_column(column: str) -> bool:
    label = _label(column)
    return any(p.search(label) for p in _DOB_RE) or any(p.search(normalise_label(column)) for p in _DOB_RE)


def identifier_kind(column: str) -> str | None:
    """What kind of identifier a column name announces, or None (dates of birth are separate)."""
    labels = {_label(column), normalise_label(column), normalise_label(column).replace(" ", "")}
    for kind, patterns in _COMPILED:
        if any(p.search(lab) for p in patterns for lab in labels):
            return kind
    return None


# -- values --------------------------------------------------------------------------------------

_NHS_CANDIDATE = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
_UPN = re.compile(r"\b[A-Za-z]\d{11}[0-9A-Za-z]\b")
_POSTCODE = re.compile(r"\b(GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\d/.\-])(?:\+44\s?\(?0?\)?\s?|\(?0)(?:\d[\s\-()]?){9,10}(?![\d/.\-])")
_WORD = r"(?:[A-Z][a-z]*(?:['-][A-Z]?[a-z]+)+|[A-Z][a-z]+)"
_NAME = re.compile(rf"^{_WORD}(?:\s+{_WORD}){{1,3}}$")
# Words of code labels ("Not Stated", "White British"): a value made of these is not a name.
_LABEL_WORDS = frozenset(
    {
        "not",
        "any",
        "other",
        "white",
        "black",
        "asian",
        "mixed",
        "british",
        "irish",
        "african",
        "caribbean",
        "chinese",
        "unknown",
        "refused",
        "stated",
        "recorded",
        "male",
        "female",
        "yes",
        "no",
        "none",
        "status",
        "information",
        "background",
        "indeterminate",
        "unborn",
        "neither",
        "known",
        "further",
        "action",
        "assessment",
        "services",
        "required",
        "missing",
        "unaccompanied",
        "asylum",
        "seeker",
        "child",
        "children",
        "parent",
        "carer",
        "disabled",
        "disability",
        "care",
        "order",
        "interim",
        "full",
        "section",
        "police",
        "protection",
        "emergency",
    }
)


def nhs_check_digit_ok(digits: str) -> bool:
    """Modulus 11 check of a 10-digit NHS number (check digit 10 is never valid)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def value_identifier_rule(text: str, *, coded: bool = False) -> str | None:
    """The rule id for an identifier-shaped value, or None. `coded` enables the personal-name test,
    which only makes sense in a field whose value should be a code."""
    for m in _NHS_CANDIDATE.finditer(text):
        if nhs_check_digit_ok("".join(m.groups())):
            return "ID-101"
    if _UPN.search(text):
        return "ID-102"
    if _EMAIL.search(text):
        return "ID-104"
    if _PHONE.search(text):
        return "ID-105"
    if _POSTCODE.search(text) and any(ch.isdigit() for ch in text):
        return "ID-103"
    if coded and looks_like_name(text):
        return "ID-106"
    return None


def looks_like_name(text: str) -> bool:
    """Two to four capitalised words of letters: the shape of a personal name in a code field."""
    text = text.strip()
    if not _NAME.match(text):
        return False
    return not any(w.casefold() in _LABEL_WORDS for w in re.split(r"[\s'-]+", text))
