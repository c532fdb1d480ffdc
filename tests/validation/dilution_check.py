"""How much of the primary outcome's treatment effect re-referrals dilute (a script, not a test).

Fits the generator's own terms (LA, period, age group, latent risk, previous CPPs, disability, UASC,
ethnicity group) to each trial twice: with the primary outcome (care within 18 months of the first
referral, whichever referral led to it) and with only the care that the first referral itself led to.
Only the second is free of control children re-referred after go-live. docs/analysis.md ("Design checks")
uses the figures.

Run: `python tests/validation/dilution_check.py [N_TRIALS] [--effect-or 0.6]`.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from cscvault.study import load_study
from cscvault.synth import frames
from cscvault.synth.truth import primary_sample, sample_frame

STUDY = load_study()
TERMS = "treated + C(la) + C(period) + C(age) + risk + prev + disabled + uasc + C(eth_group)"


def trial(seed: int, effect_or: float) -> dict[str, float]:
    _settings, batches = frames.simulate(seed, study=STUDY, effect_or=effect_or)
    parts = []
    for b in batches:
        f = pd.DataFrame(sample_frame(b, STUDY))
        s, _excluded = primary_sample(b, STUDY)
        f["own"] = (b.care_ref[s.child] == s.ref_row) & s.cared_18m
        parts.append(f)
    df = pd.concat(parts, ignore_index=True)
    df = df[df.period >= 0].copy()
    df["age"] = pd.cut(df.age_years, [-2, -1, 0, 4, 9, 12], labels=["unborn", "0", "1-4", "5-9", "10-12"])
    df["prev"] = np.minimum(df.previous_cpp, 3)
    for c in ("treated", "cared_18m", "disabled", "uasc", "own"):
        df[c] = df[c].astype(int)
    full = smf.logit(f"cared_18m ~ {TERMS}", df).fit(disp=0).params["treated"]
    own = smf.logit(f"own ~ {TERMS}", df).fit(disp=0).params["treated"]
    return {"full": float(full), "own": float(own), "share_own": float(df.own.sum() / df.cared_18m.sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n_trials", nargs="?", type=int, default=3)
    ap.add_argument("--effect-or", type=float, default=0.6)
    ap.add_argument("--first-seed", type=int, default=1)
    args = ap.parse_args()
    rows = [trial(s, args.effect_or) for s in range(args.first_seed, args.first_seed + args.n_trials)]
    for key in ("full", "own", "share_own"):
        print(f"{key:>10}: mean {np.mean([r[key] for r in rows]):+.3f}  ({', '.join(f'{r[key]:+.3f}' for r in rows)})")
    print(f"     truth: {math.log(args.effect_or):+.3f}")


if __name__ == "__main__":
    main()
