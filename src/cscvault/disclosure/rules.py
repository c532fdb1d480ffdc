"""Statistical disclosure control rules as pure functions.

Every function takes numbers (and a profile's parameters) and returns numbers, booleans or
findings; none reads files or touches the vault. The rule ids are stable: they appear in check
output, in release records and in ACRO-format `results.json`.

Conventions follow ACRO 1.0.2 (`acro/sdcchecks.py`) so that the `acro-default` profile gives the
same verdicts as ACRO itself:
- threshold: a count strictly below `min_count` fails (a zero only when zeros are disclosive);
- zeros: a zero count fails when zeros are disclosive (class disclosure), and is released as 0
  when they are not (DfE and OpenSAFELY practice); like ACRO, only for frequencies, not for
  sums or means (whose empty cells fail the threshold);
- (n,k) dominance: fails when the largest n contributions make up at least k of the cell total;
  an undefined share (total 0) does not fail, as in ACRO;
- p% rule: fails when (total - largest - second largest) / largest < p; with a largest
  contribution of 0 the numerator itself is compared with p, and an empty cell passes (ACRO's
  conventions);
- dominance is undefined when contributions are negative: as in ACRO, when any cell of a table
  has negative contributions the dominance rules are not applied to that table and the cells
  with negatives go to review (so the table does);
- models: fewer residual degrees of freedom than `min_dof` fails.
Secondary suppression (totals, linked tables) lives in `cscvault.disclosure.suppression` and is
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from cscvault.disclosure.profiles import Profile, get_profile
from cscvault.disclosure.suppression import (
    Interval,
    Relation,
    audit_suppression,
    feasible_intervals,
    is_protected,
    secondary_suppression,
)

Verdict = Literal["pass", "fail", "review"]

RULE_THRESHOLD = "threshold"
RULE_ZERO = "zero"
RULE_NK = "nk-dominance"
RULE_P = "p-ratio"
RULE_NEGATIVE = "dominance-negative"
RULE_DOMINANCE_EVIDENCE = "dominance-evidence"
RULE_DOF = "min-dof"
RULE_SECONDARY = "secondary"
RULE_MISSING = "missing"
RULE_DIFFERENCING = "differencing"
RULE_CLASS = "class-disclosure"
RULE_PUBLISHED_BEFORE = "published-before"

# Every rule id with a one-line description: for reports, release records and docs.
RULES = {
    RULE_THRESHOLD: "a count below the profile's minimum fails",
    RULE_ZERO: "a zero count fails when zeros are disclosive (class disclosure)",
    RULE_NK: "the largest n contributions make up at least k of a cell's total",
    RULE_P: "contributions other than the largest two are below p of the largest",
    RULE_NEGATIVE: "dominance is undefined with negative contributions: review",
    RULE_DOMINANCE_EVIDENCE: "dominance evidence needed by the profile was not supplied: review",
    RULE_DOF: "a model output has fewer residual degrees of freedom than the minimum",
    RULE_SECONDARY: "withheld (or still exposed) because of totals and linked tables",
    RULE_MISSING: "the count is missing: review",
    RULE_DIFFERENCING: "differs from an earlier release on the same cohort by less than the threshold",
    RULE_CLASS: "all (or all but fewer than the class threshold) or none of a group of known size have the attribute",
    RULE_PUBLISHED_BEFORE: "an earlier release of this vault published the same count: shown again, for review",
}

# Rule id -> the ACRO check that implements the same rule (for results.json and the agreement test).
ACRO_CHECK_NAMES = {
    RULE_THRESHOLD: "MinimumThresholdCheck",
    RULE_ZERO: "PresenceOfZeroCheck",
    RULE_NK: "NKCheck",
    RULE_P: "PPercentCheck",
    RULE_NEGATIVE: "NKCheck",
    RULE_DOF: "MinimumDoFCheck",
    RULE_DIFFERENCING: "PresenceOfLinkedTableCheck",
    # ACRO names the risk (ClassDisclosure, in its FAIR ontology) but has no check for it; this name is ours.
    RULE_CLASS: "ClassDisclosureCheck",
}
# The rules ACRO 1.0.2 implements itself: agreement with ACRO is measured on these.
ACRO_RULES = frozenset({RULE_THRESHOLD, RULE_ZERO, RULE_NK, RULE_P, RULE_NEGATIVE, RULE_DOF, RULE_DIFFERENCING})

__all__ = [
    "ACRO_CHECK_NAMES",
    "ACRO_RULES",
    "RULES",
    "RULE_CLASS",
    "RULE_DIFFERENCING",
    "RULE_DOF",
    "RULE_DOMINANCE_EVIDENCE",
    "RULE_MISSING",
    "RULE_NEGATIVE",
    "RULE_NK",
    "RULE_P",
    "RULE_SECONDARY",
    "RULE_THRESHOLD",
    "RULE_ZERO",
    "Dominance",
    "Finding",
    "Interval",
    "ModelCheck",
    "Relation",
    "Verdict",
    "audit_suppression",
    "below_threshold",
    "check_cell",
    "check_model_output",
    "class_disclosure",
    "disclosive_zero",
    "dof_fails",
    "feasible_intervals",
    "is_protected",
    "nk_dominated",
    "nk_ratio",
    "p_ratio_fails",
    "p_ratio_value",
    "percent",
    "round_to_base",
    "secondary_suppression",
    "verdict_of",
]


@dataclass(frozen=True)
class Finding:
    """One rule's result for one cell or model: rule id, verdict, and a message with no data value."""

    rule: str
    verdict: Verdict
    message: str

    def text(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass(frozen=True)
class Dominance:
    """Evidence for the dominance rules of one magnitude cell (a sum or mean of contributions).

    `total` is the sum of all contributions, `top1`/`top2` the largest and second largest
    (0 when there are fewer), `top_n` the sum of the largest n (None: derive from top1+top2 when
    n <= 2), `negatives` how many contributions are below zero.
    """

    total: float
    top1: float
    top2: float = 0.0
    top_n: float | None = None
    negatives: int = 0


def below_threshold(count: float, min_count: int) -> bool:
    """Threshold rule: a count strictly below `min_count` may not be released."""
    return bool(count < min_count)


def disclosive_zero(count: float, zeros_disclosive: bool) -> bool:
    """Zeros rule: a zero count reveals that nobody in the group has the attribute."""
    return bool(zeros_disclosive and count == 0)


def class_disclosure(count: float, group: float, threshold: int, structural_zero: bool = False) -> str | None:
    """Class disclosure of a count within a group of known size: "all", "none" or None.

    "all": fewer than `threshold` members of a non-empty group are outside the count (40 of 40, or 38
    of 40 with a threshold above 2: the rest is derivable and small); "none": a zero in a non-empty
    group, unless it is a structural zero. `threshold` 0 switches the rule off."""
    if threshold <= 0 or group <= 0 or math.isnan(count) or math.isnan(group):
        return None
    if group - count < threshold:
        return "all"
    if count == 0 and not structural_zero:
        return "none"
    return None


def nk_ratio(top_n: float, total: float) -> float:
    """Share of the cell total held by the largest n contributions; NaN when the total is 0."""
    if total == 0:
        return math.nan
    return top_n / total


def nk_dominated(top_n: float, total: float, k: float) -> bool:
    """(n,k) rule: fails when the largest n make up at least k of the total.

    An undefined share (total 0: all contributions zero) does not fail, as in ACRO, where the
    p% rule catches such a cell instead.
    """
    ratio = nk_ratio(top_n, total)
    return not math.isnan(ratio) and ratio >= k


def p_ratio_value(total: float, top1: float, top2: float) -> float:
    """(total - top1 - top2) / top1: how well the others hide the largest contributor."""
    rest = total - top1 - top2
    if top1 == 0:
        return rest
    return rest / top1


def p_ratio_fails(total: float, top1: float, top2: float, p: float) -> bool:
    """p% rule: the second largest contributor could estimate the largest to within p."""
    return p_ratio_value(total, top1, top2) < p


def dof_fails(df_resid: float, min_dof: int) -> bool:
    """Model outputs with fewer residual degrees of freedom than `min_dof` act like a lookup table."""
    return bool(df_resid < min_dof)


def round_to_base(value: float, base: int) -> int:
    """Round to the nearest multiple of `base`, halves away from zero (base 1: nearest integer)."""
    if base < 1:
        raise ValueError("rounding base must be at least 1")
    scaled = abs(value) / base
    rounded = math.floor(scaled + 0.5) * base
    return int(math.copysign(rounded, value)) if rounded else 0


def percent(numerator: float | None, denominator: float | None, decimals: int = 1) -> float | None:
    """A percentage computed only from released (suppressed/rounded) counts.

    None when either count was suppressed or the denominator is 0: a percentage must never be
    computed from an unreleased count, or it would undo the suppression or the rounding.
    """
    if numerator is None or denominator is None or denominator == 0:
        return None
    if isinstance(numerator, float) and math.isnan(numerator):
        return None
    if isinstance(denominator, float) and math.isnan(denominator):
        return None
    return round(100.0 * numerator / denominator, decimals)


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    """The worst verdict among findings: fail > review > pass."""
    verdicts = {f.verdict for f in findings}
    if "fail" in verdicts:
        return "fail"
    if "review" in verdicts:
        return "review"
    return "pass"


def _dominance_findings(profile: Profile, evidence: Dominance, empty: bool, table_has_negatives: bool) -> list[Finding]:
    if profile.nk_n is None and profile.p_ratio is None:
        return []
    if table_has_negatives:
        if evidence.negatives == 0:
            return []
        return [
            Finding(
                RULE_NEGATIVE,
                "review",
                "dominance is not defined when contributions are negative; a checker must decide",
            )
        ]
    findings: list[Finding] = []
    if profile.nk_n is not None and profile.nk_k is not None:
        top_n = evidence.top_n
        if top_n is None and profile.nk_n == 1:
            top_n = evidence.top1
        elif top_n is None and profile.nk_n == 2:
            top_n = evidence.top1 + evidence.top2
        if top_n is None:
            findings.append(
                Finding(
                    RULE_DOMINANCE_EVIDENCE,
                    "review",
                    f"the sum of the largest {profile.nk_n} contributions was not supplied",
                )
            )
        elif nk_dominated(top_n, evidence.total, profile.nk_k):
            findings.append(
                Finding(
                    RULE_NK,
                    "fail",
                    f"the largest {profile.nk_n} contributions make up at least {profile.nk_k:g} of the total",
                )
            )
    # The p% rule is not defined for an empty cell (ACRO treats it as passing); the (n,k) share
    # is undefined there too, and ACRO fails it, as nk_dominated does.
    if (
        profile.p_ratio is not None
        and not empty
        and p_ratio_fails(evidence.total, evidence.top1, evidence.top2, profile.p_ratio)
    ):
        findings.append(
            Finding(
                RULE_P,
                "fail",
                f"contributions other than the largest two are below {profile.p_ratio:g} of the largest",
            )
        )
    return findings


def check_cell(
    profile: Profile,
    count: float | None,
    dominance: Dominance | None = None,
    table_has_negatives: bool | None = None,
) -> list[Finding]:
    """All primary rules for one table cell: its contributor count and optional dominance evidence.

    `table_has_negatives`: some cell of the same table has negative contributions. Then, as in
    ACRO, dominance is not assessed for the table: cells with negatives go to review (and with
    them the table), the others get no dominance finding. Default: this cell's own evidence.
    """
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return [Finding(RULE_MISSING, "review", "the count is missing; a checker must decide")]
    findings: list[Finding] = []
    if count < 0:
        return [Finding(RULE_NEGATIVE, "review", "a count cannot be negative; a checker must decide")]
    frequency = dominance is None
    # Where zeros are not disclosive (DfE: "1 to 5 suppressed"; OpenSAFELY releases 0), the
    # threshold protects only non-zero counts. ACRO's threshold also fails zeros; with its default
    # (zeros disclosive) the two agree. A magnitude cell with no contributors has nothing to show.
    if below_threshold(count, profile.min_count) and (count > 0 or profile.zeros_disclosive or not frequency):
        findings.append(Finding(RULE_THRESHOLD, "fail", f"count is below {profile.min_count}"))
    # Class disclosure is a property of frequencies (ACRO's ontology: Frequencies, not sums/means).
    if frequency and disclosive_zero(count, profile.zeros_disclosive):
        findings.append(Finding(RULE_ZERO, "fail", "a zero count is disclosive (class disclosure)"))
    if dominance is not None:
        negatives = dominance.negatives > 0 if table_has_negatives is None else table_has_negatives
        findings.extend(_dominance_findings(profile, dominance, count == 0, negatives))
    return findings


@dataclass(frozen=True)
class ModelCheck:
    """The degrees-of-freedom check of a model output, stamped with its profile."""

    profile: str
    profile_version: str
    df_resid: float
    min_dof: int
    verdict: Verdict
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "profile_version": self.profile_version,
            "df_resid": self.df_resid,
            "min_dof": self.min_dof,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
        }


def check_model_output(df_resid: float | None, profile: Profile | str) -> ModelCheck:
    """Minimum residual degrees of freedom for a model (coefficients, tests, fit measures)."""
    profile = get_profile(profile)
    findings: list[Finding] = []
    value = math.nan if df_resid is None else float(df_resid)
    if math.isnan(value):
        findings.append(Finding(RULE_DOF, "review", "residual degrees of freedom unknown"))
    elif dof_fails(value, profile.min_dof):
        findings.append(Finding(RULE_DOF, "fail", f"residual degrees of freedom below {profile.min_dof}"))
    return ModelCheck(
        profile=profile.name,
        profile_version=profile.version,
        df_resid=value,
        min_dof=profile.min_dof,
        verdict=verdict_of(findings),
        reasons=tuple(f.text() for f in findings),
    )
