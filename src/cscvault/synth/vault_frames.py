"""The primary sample's inputs built straight from the generator, without writing or ingesting returns.

`cscvault.analysis.samples.primary_sample_from_frames` reads three frames from the vault's analysis views
(referrals, children, periods of care). This module builds the same frames, with the same columns and
codes, from simulated batches in memory, so validation can run the product's sample and model code over
hundreds of synthetic trials at the real sample size (writing and ingesting every trial's returns would
take hours). Ages follow the returns: whole calendar months from the month of birth, negative before it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from cscvault.synth import codes
from cscvault.synth.dates import NO_DATE
from cscvault.synth.dgp import Batch

_GENDER = {1: "male", 2: "female", 9: "indeterminate"}


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def _masked(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """The values with the returns' recorded-missing entries as None (all present under --clean)."""
    out = values.astype(object)
    out[missing] = None
    return out


def _child_keys(b: Batch) -> np.ndarray:
    # unique over LAs and batches; a stand-in for the vault's keyed pseudonym
    return np.char.add(f"{b.la.la.ons_code}-", b.child_ids().astype(str))


def vault_frames(batches: Iterable[Batch]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(referrals, children, periods of care) as `cscvault.analysis.samples.load_inputs` returns them."""
    refs, kids, care = [], [], []
    eth_codes = np.array(codes.ETHNICITY_CODES, dtype=object)
    for b in batches:
        keys = _child_keys(b)
        la = b.la.la.ons_code
        dob_month = b.dob.astype("datetime64[D]").astype("datetime64[M]")
        ref_month = b.r_date.astype("datetime64[D]").astype("datetime64[M]")
        months = (ref_month - dob_month[b.r_child]).astype(np.int64)
        refs.append(
            pd.DataFrame(
                {
                    "child_key": keys[b.r_child],
                    "la_code": la,
                    "referral_date": _dates(b.r_date),
                    "unborn": months < 0,
                    "age_months": _masked(months, b.miss_dob[b.r_child]),
                    "previous_cpps": b.r_prev_cpp,
                    "nfa": b.r_nfa,
                }
            )
        )
        kids.append(
            pd.DataFrame(
                {
                    "child_key": keys,
                    "la_code": la,
                    "gender": _masked(np.array([_GENDER[int(v)] for v in b.sex], dtype=object), b.miss_gender),
                    "ethnicity": _masked(eth_codes[b.ethnicity], b.miss_ethnicity),
                    "disability": _masked(b.disabled, b.miss_disability),
                    "uasc": _masked(b.uasc, b.miss_uasc),
                }
            )
        )
        cared = b.care_start != NO_DATE
        care.append(pd.DataFrame({"child_key": keys[cared], "la_code": la, "start_date": _dates(b.care_start[cared])}))
    return (
        pd.concat(refs, ignore_index=True),
        pd.concat(kids, ignore_index=True),
        pd.concat(care, ignore_index=True),
    )
