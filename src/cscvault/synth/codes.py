"""Code lists the generator draws from (DfE CIN census and SSDA903 codes, DR template labels)."""

from __future__ import annotations

# Ethnicity: (code, analysis group index in rates.ETHNIC_GROUPS, share within the group)
ETHNICITY: tuple[tuple[str, int, float], ...] = (
    ("WBRI", 0, 0.86),
    ("WIRI", 0, 0.01),
    ("WIRT", 0, 0.01),
    ("WOTH", 0, 0.11),
    ("WROM", 0, 0.01),
    ("MWBC", 1, 0.35),
    ("MWBA", 1, 0.15),
    ("MWAS", 1, 0.20),
    ("MOTH", 1, 0.30),
    ("AIND", 2, 0.25),
    ("APKN", 2, 0.40),
    ("ABAN", 2, 0.15),
    ("AOTH", 2, 0.20),
    ("BCRB", 3, 0.30),
    ("BAFR", 3, 0.55),
    ("BOTH", 3, 0.15),
    ("CHNE", 4, 0.15),
    ("OOTH", 4, 0.85),
)
ETHNICITY_CODES = tuple(e[0] for e in ETHNICITY)
ETHNICITY_LABELS = {
    "WBRI": "White British",
    "WIRI": "White Irish",
    "WIRT": "Traveller of Irish Heritage",
    "WOTH": "Any other White background",
    "WROM": "Gypsy/Roma",
    "MWBC": "White and Black Caribbean",
    "MWBA": "White and Black African",
    "MWAS": "White and Asian",
    "MOTH": "Any other mixed background",
    "AIND": "Indian",
    "APKN": "Pakistani",
    "ABAN": "Bangladeshi",
    "AOTH": "Any other Asian background",
    "BCRB": "Caribbean",
    "BAFR": "African",
    "BOTH": "Any other Black background",
    "CHNE": "Chinese",
    "OOTH": "Any other ethnic group",
    "REFU": "Refused",
    "NOBT": "Information not yet obtained",
}

# Assessment factors: (code, base probability per assessment, loading on the child's latent risk)
FACTORS: tuple[tuple[str, float, float], ...] = (
    ("1B", 0.08, 0.4),
    ("2B", 0.08, 0.4),
    ("3A", 0.17, 0.3),
    ("3B", 0.05, 0.3),
    ("3C", 0.03, 0.3),
    ("4B", 0.17, 0.3),
    ("1A", 0.02, 0.2),
    ("2A", 0.03, 0.2),
    ("4A", 0.10, 0.2),
    ("5B", 0.03, 0.1),
    ("6B", 0.03, 0.1),
    ("7A", 0.01, 0.0),
    ("10A", 0.03, 0.2),
    ("11A", 0.02, 0.2),
    ("14A", 0.04, 0.1),
    ("15A", 0.03, 0.1),
    ("16A", 0.15, 0.4),
    ("17A", 0.12, 0.3),
    ("18C", 0.06, 0.3),
    ("19C", 0.03, 0.3),
    ("20", 0.06, 0.0),
    ("22A", 0.002, 0.0),
    ("24A", 0.02, 0.2),
)
FACTOR_CODES = tuple(f[0] for f in FACTORS)
PARENTAL_FACTORS = ("1B", "2B", "3A", "3B", "3C", "4B")
PARENTAL_MASK = sum(1 << FACTOR_CODES.index(c) for c in PARENTAL_FACTORS)
NO_FACTORS_CODE = "21"
FACTOR_WORDS = {
    "1B": "Alcohol misuse - parent",
    "2B": "Drug misuse - parent",
    "3A": "Domestic violence - child",
    "3B": "Domestic violence - parent",
    "3C": "Domestic violence - other person",
    "4B": "Mental health - parent",
    "1A": "Alcohol misuse - child",
    "2A": "Drug misuse - child",
    "4A": "Mental health - child",
    "5B": "Learning disability - parent",
    "6B": "Physical disability or illness - parent",
    "7A": "Young carer",
    "10A": "Going missing",
    "11A": "Child sexual exploitation",
    "14A": "Socially unacceptable behaviour",
    "15A": "Self-harm",
    "16A": "Neglect",
    "17A": "Emotional abuse",
    "18C": "Physical abuse - adult on child",
    "19C": "Sexual abuse - adult on child",
    "20": "Other",
    "21": "No factors identified",
    "22A": "Female genital mutilation",
    "24A": "Child criminal exploitation",
}

REFERRAL_SOURCES: tuple[tuple[str, float], ...] = (
    ("1A", 0.05),
    ("1B", 0.01),
    ("1C", 0.02),
    ("1D", 0.02),
    ("2A", 0.18),
    ("2B", 0.02),
    ("3A", 0.03),
    ("3B", 0.03),
    ("3E", 0.03),
    ("3F", 0.08),
    ("4", 0.02),
    ("5A", 0.04),
    ("5B", 0.02),
    ("5C", 0.03),
    ("5D", 0.04),
    ("6", 0.30),
    ("7", 0.03),
    ("8", 0.02),
    ("9", 0.01),
    ("10", 0.02),
)
PRIMARY_NEED = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
PRIMARY_NEED_P = (0.58, 0.04, 0.04, 0.07, 0.15, 0.02, 0.01, 0.09)
ABUSE_CATEGORIES = ("NEG", "PHY", "SAB", "EMO", "MUL")
ABUSE_P = (0.48, 0.08, 0.04, 0.37, 0.03)
DISABILITIES = ("MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA")
DISABILITY_P = (0.06, 0.03, 0.05, 0.03, 0.15, 0.2, 0.04, 0.03, 0.12, 0.01, 0.22, 0.06)

# SSDA903
LEGAL_S20 = "V2"
LEGAL_ICO = "C1"
LEGAL_CARE_ORDER = "C2"
LEGAL_PLACEMENT_ORDER = "E1"
LEGAL_EMERGENCY = ("L1", "L2")
KINSHIP_PLACEMENTS = ("U1", "U2", "U3")
FOSTER_PLACEMENTS = ("U4", "U5", "U6")
PLACEMENT_PROVIDER = {
    "U": ("PR1", "PR4", "PR5"),
    "K": ("PR1", "PR4"),
    "R": ("PR1", "PR3"),
    "A": ("PR1", "PR5"),
}
REASON_PLACE_CHANGE = ("CARPL", "CLOSE", "CREQB", "CREQO", "LAREQ", "OTHER")
REVIEW_CODES = ("PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7")
SW_REASONS = ("MANAGE", "FCONTA", "LEFTRL", "ORGRST", "TSPROC", "ABSENC", "CHCHAN", "PCCHAN", "OTHERS")

# Ceasing reasons: E4A returned home (care planning), E4B returned home (not planned), E13 left to live
# with relatives without PR, E41 child arrangements order, E45/E47 special guardianship, E8 other.
CEASE_ORDINARY: tuple[tuple[str, float], ...] = (
    ("E4A", 0.42),
    ("E4B", 0.08),
    ("E13", 0.06),
    ("E41", 0.07),
    ("E45", 0.14),
    ("E47", 0.05),
    ("E8", 0.08),
    ("E3", 0.04),
    ("E16", 0.01),
    ("E48", 0.05),
)
RETURN_HOME_REASONS = ("E4A", "E4B")
CEASE_AT_18 = (("E17", 0.3), ("E5", 0.35), ("E6", 0.15), ("E8", 0.2))
CEASE_ADOPTED = ("E11", "E12")
