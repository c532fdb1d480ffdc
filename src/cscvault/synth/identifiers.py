"""Identifier bait for `--with-identifiers`: names, addresses, postcodes, UPNs, NHS numbers, full DOBs.

Every value is synthetic. NHS numbers carry a valid modulus-11 check digit and UPNs a valid check
letter, so that ingest's screening (which checks them) is tested against realistic values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ObjArray = npt.NDArray[np.object_]

FORENAMES = (
    "Oliver",
    "Amelia",
    "George",
    "Isla",
    "Harry",
    "Ava",
    "Noah",
    "Mia",
    "Jack",
    "Ivy",
    "Leo",
    "Lily",
    "Arthur",
    "Freya",
    "Muhammad",
    "Florence",
    "Oscar",
    "Grace",
    "Charlie",
    "Sophia",
    "Jacob",
    "Evie",
    "Thomas",
    "Ella",
    "Alfie",
    "Poppy",
    "Riley",
    "Willow",
    "Archie",
    "Rosie",
    "Aisha",
    "Kofi",
    "Zainab",
)
SURNAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Hussain",
    "Begum",
    "Okafor",
    "Mensah",
    "Nowak",
    "Kowalski",
    "Murphy",
    "Kelly",
)
STREETS = (
    "High Street",
    "Station Road",
    "Church Lane",
    "Park Avenue",
    "Victoria Road",
    "Mill Lane",
    "Green Close",
)
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # the 23 check letters (no I, O, S)
POSTCODE_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def nhs_check_digit(nine: str) -> int | None:
    """Modulus-11 check digit of the first nine digits; None when the number would be invalid."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def nhs_number_valid(number: str) -> bool:
    digits = number.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def nhs_numbers(rng: np.random.Generator, n: int) -> ObjArray:
    out: list[str] = []
    while len(out) < n:
        nine = f"{int(rng.integers(400_000_000, 799_999_999)):09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            out.append(f"{nine[:3]} {nine[3:6]} {nine[6:]}{check}")
    return np.array(out, dtype=object)


def upn_check_letter(body12: str) -> str:
    """DfE UPN check letter: weights 2..13 over characters 2-13, sum mod 23."""
    total = sum(int(ch) * w for ch, w in zip(body12, range(2, 14), strict=True))
    return UPN_LETTERS[total % 23]


def upns(rng: np.random.Generator, n: int, dfe_code: str) -> ObjArray:
    out = []
    for _ in range(n):
        body = f"{dfe_code}{int(rng.integers(1000, 9999))}{int(rng.integers(10, 24))}{int(rng.integers(0, 999)):03d}"
        out.append(upn_check_letter(body) + body)
    return np.array(out, dtype=object)


def upn_valid(upn: str) -> bool:
    return len(upn) == 13 and upn[1:].isdigit() and upn_check_letter(upn[1:]) == upn[0]


def postcodes(rng: np.random.Generator, n: int, areas: tuple[str, ...]) -> ObjArray:
    out = []
    for _ in range(n):
        area = areas[int(rng.integers(len(areas)))]
        district = int(rng.integers(1, 20))
        a, b = (POSTCODE_INWARD_LETTERS[int(i)] for i in rng.integers(0, len(POSTCODE_INWARD_LETTERS), 2))
        out.append(f"{area}{district} {int(rng.integers(1, 9))}{a}{b}")
    return np.array(out, dtype=object)


def names(rng: np.random.Generator, n: int) -> tuple[ObjArray, ObjArray]:
    f = np.array(FORENAMES, dtype=object)[rng.integers(0, len(FORENAMES), n)]
    s = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n)]
    return f, s


def addresses(rng: np.random.Generator, n: int) -> ObjArray:
    num = rng.integers(1, 180, n)
    st = np.array(STREETS, dtype=object)[rng.integers(0, len(STREETS), n)]
    return np.array([f"{a} {b}" for a, b in zip(num.tolist(), st.tolist(), strict=True)], dtype=object)


class BaitLog:
    """What identifier bait went where, for ingest's screening tests (written as bait_manifest.json)."""

    MAX_SAMPLES = 25

    def __init__(self) -> None:
        self.entries: list[dict[str, object]] = []

    def extra_column(self, file: str, column: str, kind: str, values: ObjArray) -> None:
        vals = [str(v) for v in values.tolist() if str(v)]
        self.entries.append(
            {
                "file": file,
                "placement": "extra_column",
                "column": column,
                "identifier": kind,
                "rows": len(vals),
                "sample_values": vals[: self.MAX_SAMPLES],
            }
        )

    def hidden(self, file: str, column: str, kind: str, rows: list[int], values: list[str]) -> None:
        if not rows:
            return
        self.entries.append(
            {
                "file": file,
                "placement": "hidden_in_allowed_column",
                "column": column,
                "identifier": kind,
                "rows": len(rows),
                "row_numbers": rows,
                "values": values,
            }
        )
