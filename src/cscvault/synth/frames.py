"""Synthetic batches as the analysis frames a vault would give, without writing or ingesting files.

`vault_frames` turns the generator's batches into exactly the tables the analysis reads
(`primary_sample_from_frames` inputs and `SecondaryInputs`), with the shapes and conventions of the
vault's `analysis.*` views: child keys unique across LAs, age in whole calendar months from the birth
month, an open plan as a missing end date, assessment factors as comma-joined codes, attendance as
'YYYY-term' rows of the terms whose census falls inside the data window. Validation runs many trials
through the product's own derivations and models this way; one pipeline-through test checks that the
vault gives the same answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cscvault.analysis.samples import PrimarySample, primary_sample_from_frames
from cscvault.analysis.secondary_outcomes import SecondaryInputs
from cscvault.study import load_study
from cscvault.study.model import Study
from cscvault.synth import codes, dgp
from cscvault.synth.dates import NO_DATE, IntArray
from cscvault.synth.dgp import Batch, Settings
from cscvault.synth.generate import _default_per_la, _split
from cscvault.synth.rates import load_rates
from cscvault.synth.school_census import delivered_terms, school_data, term_label
from cscvault.synth.truth import primary_sample

_SEX = np.array([None, "male", "female", None, None, None, None, None, None, "indeterminate"], dtype=object)


_ETHNICITY = np.array(codes.ETHNICITY_CODES, dtype=object)


def _masked(values: npt.NDArray[np.generic], missing: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
    """The values with the returns' recorded-missing entries as None (none under --clean)."""
    out = values.astype(object)
    out[missing] = None
    return out


def _dates(days: IntArray) -> pd.Series:
    """Day numbers as timestamps; NO_DATE as NaT."""
    out = np.where(days == NO_DATE, np.iinfo(np.int64).min, days).astype("datetime64[D]")
    return pd.Series(pd.to_datetime(out.astype("datetime64[ns]")))


def _factor_text(masks: IntArray) -> npt.NDArray[np.object_]:
    out = np.full(masks.shape, None, dtype=object)
    for i, m in enumerate(masks.tolist()):
        if m:
            out[i] = ",".join(c for k, c in enumerate(codes.FACTOR_CODES) if (m >> k) & 1)
    return out


def _sample_rows(b: Batch, study: Study, keys: npt.NDArray[np.object_]) -> pd.DataFrame:
    """The primary sample's rows of a batch (the generator's own sample, which the ingested sample equals
    child by child; see tests/integration/test_primary_analysis.py), shaped as `base_frame` shapes them."""
    ps, _ = primary_sample(b, study)
    names = np.array([p.name for p in study.periods], dtype=object)
    return pd.DataFrame(
        {
            "child_key": keys[ps.child],
            "la_code": b.la.la.ons_code,
            "la": b.la.la.name,
            "period": names[ps.period],
            "treatment": ps.treated.astype(int),
            "referral_date": _dates(ps.ref_date).to_numpy(),
            "age_group": np.where(ps.age_years < 0, "-1", ps.age_years.astype(str)).astype(object),
        }
    )


@dataclass
class _Parts:
    base: list[pd.DataFrame]
    referrals: list[pd.DataFrame]
    children: list[pd.DataFrame]
    cla: list[pd.DataFrame]
    assessments: list[pd.DataFrame]
    cp_plans: list[pd.DataFrame]
    cin_plans: list[pd.DataFrame]
    pre: list[pd.DataFrame]
    proc: list[pd.DataFrame]
    attendance: list[pd.DataFrame]


def _batch_frames(b: Batch, s: Settings, parts: _Parts, with_school: bool) -> None:
    la_code = b.la.la.ons_code
    keys = np.array([f"{la_code}:{i}" for i in b.child_ids().tolist()], dtype=object)
    rk = keys[b.r_child]
    dob_month = b.dob.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    ref_month = b.r_date.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    age_months = ref_month - dob_month[b.r_child]
    ref_dates = _dates(b.r_date)
    parts.base.append(_sample_rows(b, s.study, keys))
    parts.referrals.append(
        pd.DataFrame(
            {
                "child_key": rk,
                "la_code": la_code,
                "referral_date": ref_dates,
                "unborn": age_months < 0,
                "age_months": _masked(age_months, b.miss_dob[b.r_child]),
                "previous_cpps": b.r_prev_cpp,
                "nfa": b.r_nfa,
            }
        )
    )
    parts.children.append(
        pd.DataFrame(
            {
                "child_key": keys,
                "la_code": la_code,
                "gender": _masked(_SEX[b.sex], b.miss_gender),
                "ethnicity": _masked(_ETHNICITY[b.ethnicity], b.miss_ethnicity),
                "disability": _masked(b.disabled, b.miss_disability),
                "uasc": _masked(b.uasc, b.miss_uasc),
            }
        )
    )
    ek = keys[b.e_child]
    parts.cla.append(
        pd.DataFrame(
            {"child_key": ek, "la_code": la_code, "start_date": _dates(b.e_start), "end_date": _dates(b.e_end)}
        )
    )
    asmt = b.r_asmt_start != NO_DATE
    parts.assessments.append(
        pd.DataFrame(
            {
                "child_key": rk[asmt],
                "referral_date": ref_dates[asmt].to_numpy(),
                "factors": _factor_text(b.r_factors[asmt]),
            }
        )
    )

    def events(start: IntArray, end: IntArray | None = None, name: str = "start_date") -> pd.DataFrame:
        rows = start != NO_DATE
        df = pd.DataFrame({"child_key": rk[rows], "la_code": la_code, name: _dates(start[rows]).to_numpy()})
        if end is not None:
            df["end_date"] = _dates(end[rows]).to_numpy()
        return df

    parts.cp_plans.append(events(b.r_cpp_start, b.r_cpp_end))
    parts.cin_plans.append(events(b.r_cin_start, b.r_cin_end))
    parts.pre.append(events(b.r_pre_start))
    parts.proc.append(events(b.r_proc_issue, name="issue_date"))
    if with_school:
        sd = school_data(b, s)
        keep = np.array([k in delivered_terms(sd.terms, s.study) for k in range(len(sd.terms))], dtype=np.bool_)
        rows = keep[sd.a_term]
        labels = np.array([term_label(t) for t in sd.terms], dtype=object)
        parts.attendance.append(
            pd.DataFrame(
                {
                    "child_key": keys[sd.a_child[rows]],
                    "term": labels[sd.a_term[rows]],
                    "sessions_possible": sd.possible[rows],
                    "sessions_unauthorised_absence": sd.unauthorised[rows],
                }
            )
        )


def _data_end(frames: dict[str, pd.DataFrame]) -> dict[str, dt.date]:
    """Per LA, the latest date any table covers (as `data_end_by_la` computes it in the vault)."""
    cols = {
        "referrals": ("referral_date",),
        "cla": ("start_date", "end_date"),
        "cp_plans": ("start_date", "end_date"),
        "cin_plans": ("start_date", "end_date"),
        "pre": ("start_date",),
        "proc": ("issue_date",),
    }
    parts = [frames[t][["la_code", c]].rename(columns={c: "d"}) for t, cs in cols.items() for c in cs]
    latest = pd.concat(parts).groupby("la_code")["d"].max()
    return {str(k): pd.Timestamp(v).date() for k, v in latest.items() if pd.notna(v)}


@dataclass
class VaultFrames:
    """A synthetic run's secondary-outcome inputs, its primary sample as `base_frame` gives it, and the
    frames `primary_sample_from_frames` reads (to derive the sample the product's way)."""

    base: pd.DataFrame
    inputs: SecondaryInputs
    referrals: pd.DataFrame
    children: pd.DataFrame
    cla: pd.DataFrame

    def product_sample(self, study: Study) -> PrimarySample:
        """The primary sample derived by the analysis code from these frames (slow at full scale)."""
        return primary_sample_from_frames(self.referrals, self.children, self.cla, study)


def simulate(
    seed: int,
    children: int | None = None,
    *,
    study: Study | None = None,
    effect_or: float = 0.85,
    clean: bool = True,
    scale: float | None = None,
) -> tuple[Settings, list[Batch]]:
    """The batches `cscvault synth` would generate for (seed, children, clean), in memory. `scale`
    instead multiplies each LA's real size (for runs larger than the study)."""
    st = study or load_study()
    rates = load_rates(st)
    base = _default_per_la(st, rates)
    if scale is not None:
        per_la = {k: max(1, round(v * scale)) for k, v in base.items()}
    else:
        per_la = _split(sum(base.values()) if children is None else int(children), base)
    settings = dgp.calibrate(st, rates.common, rates.las, seed, effect_or, clean)
    batches = [
        dgp.simulate_batch(settings, la, i, k, size, first)
        for i, la in enumerate(rates.las)
        for k, (size, first) in enumerate(dgp.batch_plan(per_la[la.la.ons_code]))
    ]
    return settings, batches


def vault_frames(batches: Iterable[Batch], settings: Settings, study: Study, with_school: bool = True) -> VaultFrames:
    """The analysis inputs the vault would hold after ingesting these batches' clean returns."""
    parts = _Parts([], [], [], [], [], [], [], [], [], [])
    for b in batches:
        _batch_frames(b, settings, parts, with_school)
    cat = {
        name: pd.concat(getattr(parts, name), ignore_index=True)
        for name in ("referrals", "children", "cla", "cp_plans", "cin_plans", "pre", "proc")
    }
    attendance = (
        pd.concat(parts.attendance, ignore_index=True)
        if parts.attendance
        else pd.DataFrame(columns=["child_key", "term", "sessions_possible", "sessions_unauthorised_absence"])
    )
    inputs = SecondaryInputs(
        referrals=cat["referrals"][["child_key", "referral_date"]],
        assessments=pd.concat(parts.assessments, ignore_index=True),
        cp_plans=cat["cp_plans"][["child_key", "start_date", "end_date"]],
        cin_plans=cat["cin_plans"][["child_key", "start_date"]],
        cla=cat["cla"][["child_key", "start_date"]],
        pre_proceedings=cat["pre"][["child_key", "start_date"]],
        care_proceedings=cat["proc"][["child_key", "issue_date"]],
        attendance=attendance,
        data_end=_data_end(cat),
    )
    base = pd.concat(parts.base, ignore_index=True)
    base["data_end"] = pd.to_datetime(base["la_code"].map(inputs.data_end))
    return VaultFrames(base, inputs, cat["referrals"], cat["children"], cat["cla"])
