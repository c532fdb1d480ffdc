"""Field-level checks on staged tables: identifier values, dates, codes, numbers, keys, event order.

Pure: takes staged frames, returns cleaned frames and reports to a `Collector`. Each distinct value
of a column is checked once (returns repeat their codes and dates), then mapped back; a failing
value is reported at every row that holds it, and quarantined, never put in a message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cscvault.formats.base import LOC, Collector
from cscvault.formats.dr_returns import layouts
from cscvault.formats.identifiers import looks_like_name, nhs_check_digit_ok, value_identifier_rule
from cscvault.formats.recode import is_kinship, is_return_home, recode, recode_factors, table
from cscvault.ingest import dates as datelib
from cscvault.ingest.schema import ORDER, PRIMARY_DATE, TABLES, FieldSpec
from cscvault.study.model import Study

BIRTH_FIELDS = frozenset({"birth_month", "expected_birth"})
_MIN_BIRTH_YEAR = 1990
_MAX_COUNT = 2.0**63  # a count the vault's integer columns cannot hold is out of range, not a crash


@dataclass(frozen=True)
class Outcome:
    """The checked value of one distinct raw value, or the rule that rejected it."""

    value: object | None
    rule: str | None = None  # rejects the value (it is nulled and quarantined)
    warn: str | None = None  # keeps the value, reports it
    params: tuple[tuple[str, str], ...] = ()


def clean_tables(
    tables: dict[str, pd.DataFrame], sink: Collector, study: Study, census_year: int | None = None
) -> dict[str, pd.DataFrame]:
    """Check every field of every staged table. `census_year` (the collection's end year, when the
    file says) makes year-bound codes checkable."""
    check_id_shapes(tables, sink)
    out: dict[str, pd.DataFrame] = {}
    # A birth month repeated on every event of a child is reported once, on the child.
    births_on_children = "children" in tables and not tables["children"].empty
    for name, df in tables.items():
        specs = TABLES.get(name)
        if specs is None or df.empty:
            continue
        df = df.reset_index(drop=True)
        for spec in specs:
            if spec.name in df.columns and spec.kind != "id":
                silent = spec.name in BIRTH_FIELDS and births_on_children and name != "children"
                df[spec.name] = _clean_column(df, spec, sink, study, name, silent, census_year)
        df = _drop_rows(df, name, sink)
        _check_order(df, name, sink)
        out[name] = df
    _derive(out)
    if "la_month_aggregates" in out:
        out["la_month_aggregates"] = _rescale_proportions(out["la_month_aggregates"], sink)
    return out


def _rescale_proportions(df: pd.DataFrame, sink: Collector) -> pd.DataFrame:
    """A proportion measure given as percentages (some value above 1) is divided by 100 for the file;
    one NUM-003 per measure. Values above 100 cannot be either and are rejected (NUM-002)."""
    measures = layouts()["dr1"].get("proportions", {}).get("measures", [])
    if "measure" not in df.columns or "value" not in df.columns:
        return df
    df = df.copy()
    for measure in measures:
        rows = df["measure"] == measure
        values = pd.to_numeric(df.loc[rows, "value"], errors="coerce")
        too_big = values > 100
        for loc in df.loc[too_big[too_big].index, LOC]:
            sink.add("NUM-002", str(loc), measure)
        df = df.drop(index=too_big[too_big].index)
        rows = df["measure"] == measure
        values = pd.to_numeric(df.loc[rows, "value"], errors="coerce")
        if (values > 1).any():
            df.loc[rows, "value"] = (values / 100).astype(object)
            sink.add("NUM-003", "", measure)
    return df.reset_index(drop=True)


def check_id_shapes(tables: dict[str, pd.DataFrame], sink: Collector, share: float = 0.9) -> None:
    """ID-107 once per file when most distinct child ids look like NHS numbers or UPNs (a random
    ten-digit id passes the NHS check about one time in eleven)."""
    for name in ("children", "referrals", "cla_episodes", "attendance_terms"):
        df = tables.get(name)
        if df is None or "la_child_id" not in df.columns:
            continue
        ids = [str(v) for v in pd.unique(df["la_child_id"].dropna())][:5000]
        if len(ids) < 5:
            return
        nhs = sum(1 for v in ids if nhs_check_digit_ok(v.replace(" ", "")))
        upn = sum(1 for v in ids if value_identifier_rule(v) == "ID-102")
        if nhs >= share * len(ids):
            sink.add("ID-107", "", "la_child_id", table=name, kind="NHS numbers")
        elif upn >= share * len(ids):
            sink.add("ID-107", "", "la_child_id", table=name, kind="UPNs")
        return


def _clean_column(
    df: pd.DataFrame,
    spec: FieldSpec,
    sink: Collector,
    study: Study,
    table_name: str,
    silent: bool = False,
    census_year: int | None = None,
) -> pd.Series:
    col = df[spec.name]
    # Each distinct value once (factorize keeps first-seen order and gives every row its value's code).
    codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    if len(uniques) == 0:
        return col
    distinct = list(uniques)
    check, context = _checker(spec, study, distinct, table_name, census_year)
    results = _check_all(check, context, distinct)
    # A referral date repeated on an event is reported once, on the referral itself.
    silent = silent or spec.kind == "link_date"
    flagged = [] if silent else [i for i, res in enumerate(results) if res.rule is not None or res.warn is not None]
    if flagged:
        mask = np.isin(codes, flagged)
        raw = col.to_numpy(dtype=object)[mask]
        owners = df["la_child_id"].to_numpy(dtype=object)[mask] if "la_child_id" in df.columns else [None] * len(raw)
        for loc, code, u, owner in zip(df[LOC].to_numpy(dtype=object)[mask], codes[mask], raw, owners, strict=True):
            res = results[code]
            params = dict(res.params)
            if res.rule is not None:
                sink.add(res.rule, str(loc), spec.name, value=u, child_id=owner, table=table_name, **params)
            else:
                sink.add(str(res.warn), str(loc), spec.name, table=table_name, **params)
    # Row values by code; the extra last slot (code -1) is a missing value.
    values = np.empty(len(results) + 1, dtype=object)
    values[:-1] = [res.value for res in results]
    values[-1] = None
    return pd.Series(values[codes], index=col.index, dtype=object)


# Outcomes of text values already checked, per checking context (everything the check depends on besides
# the value): the same dates and codes recur in every column, table and file of a delivery set. In memory
# only, bounded, and emptied by `forget_checked()` at the end of an ingest.
_MEMO: dict[tuple[object, ...], dict[str, Outcome]] = {}
_MEMO_MAX = 50_000


def forget_checked() -> None:
    _MEMO.clear()


def _check_all(check: Callable[[object], Outcome], context: tuple[object, ...], values: list[object]) -> list[Outcome]:
    memo = _MEMO.setdefault(context, {})
    if len(memo) > _MEMO_MAX:
        memo.clear()
    out = []
    for v in values:
        if type(v) is str:  # only text: 1, 1.0 and True are equal keys but are not checked alike
            res = memo.get(v)
            if res is None:
                res = memo[v] = check(v)
        else:
            res = check(v)
        out.append(res)
    return out


def _checker(
    spec: FieldSpec, study: Study, uniques: list[object], table_name: str, census_year: int | None = None
) -> tuple[Callable[[object], Outcome], tuple[object, ...]]:
    """The check of one column's values, and the context that check depends on besides the value."""
    year_label = f"{census_year - 1}/{census_year % 100:02d}" if census_year else ""
    out_of_year = Outcome(None, warn="CODE-017", params=(("year", year_label),))
    if spec.kind in {"date", "link_date", "month"}:
        day_first = datelib.column_day_first(uniques)
        birth = spec.name in BIRTH_FIELDS
        month_ok = spec.kind == "month"
        w = study.windows

        def check_date(raw: object) -> Outcome:
            parsed = datelib.parse_date(raw, day_first=day_first, month_ok=month_ok)
            if parsed.value is None:
                return Outcome(None, _identifier_rule(raw) or "DATE-001")
            day = parsed.value
            if month_ok:
                day = day.replace(day=1)
            if birth:
                if day.year < _MIN_BIRTH_YEAR or day.year > w.data_end.year + 1:
                    return Outcome(None, "DATE-004")
            elif not datelib.in_window(day, w.data_start.replace(day=1) if month_ok else w.data_start, w.data_end):
                return Outcome(None, "DATE-003")
            if parsed.status == "ambiguous":
                return Outcome(day, warn="DATE-002", params=(("reading", parsed.reading),))
            return Outcome(day)

        return check_date, ("date", birth, month_ok, day_first, w.data_start, w.data_end)
    if spec.kind == "code":
        assert spec.code_table is not None
        code_table = spec.code_table

        def check_code(raw: object) -> Outcome:
            res = recode(code_table, raw)
            if res.status == "ok":
                if isinstance(res.value, str) and not table(code_table).valid_in(res.value, census_year):
                    return Outcome(res.value, warn=out_of_year.warn, params=out_of_year.params)
                return Outcome(res.value)
            if res.status == "missing":
                return Outcome(None)
            if res.status == "legacy":
                return Outcome(res.value, warn="CODE-016")
            text = str(raw)
            rid = value_identifier_rule(text)
            if rid is None and looks_like_name(text):
                rid = "ID-106"
            return Outcome(None, rid or table(code_table).rule)

        return check_code, ("code", code_table, census_year)
    if spec.kind == "factors":

        def check_factors(raw: object) -> Outcome:
            rid = _identifier_rule(raw)
            if rid:
                return Outcome(None, rid)
            res = recode_factors(raw)
            value = ",".join(res.codes) if res.codes else None
            factors_table = table("factors")
            off_year = any(not factors_table.valid_in(c, census_year) for c in res.codes)
            if res.unmapped:
                if len(res.codes) == 0 and looks_like_name(str(raw)):
                    return Outcome(None, "ID-106")
                return Outcome(value, "CODE-008")
            if off_year:
                return Outcome(value, warn=out_of_year.warn, params=out_of_year.params)
            if res.legacy:
                return Outcome(value, warn="CODE-016")
            return Outcome(value)

        return check_factors, ("factors", census_year)
    if spec.kind in {"count", "number"}:
        integral = spec.kind == "count"

        def check_number(raw: object) -> Outcome:
            rid = _identifier_rule(raw)
            if rid:
                return Outcome(None, rid)
            number = _number(raw)
            if number is None:
                return Outcome(None, "NUM-001")
            if number < 0 or (integral and not number.is_integer()) or (integral and number >= _MAX_COUNT):
                return Outcome(None, "NUM-002")
            if spec.name == "unauthorised_pct" and number > 100:
                return Outcome(None, "NUM-002")
            return Outcome(int(number) if integral else number)

        return check_number, ("number", spec.name, integral)

    def check_text(raw: object) -> Outcome:
        rid = _identifier_rule(raw)
        return Outcome(None, rid) if rid else Outcome(raw)

    return check_text, ("text",)


def _identifier_rule(raw: object) -> str | None:
    if raw is None or isinstance(raw, dt.date | int | float):
        return None
    return value_identifier_rule(str(raw))


def _number(raw: object) -> float | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    else:
        text = str(raw).strip().replace(",", "").rstrip("%").strip()
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def _drop_rows(df: pd.DataFrame, name: str, sink: Collector) -> pd.DataFrame:
    keep = pd.Series(True, index=df.index)
    if "la_child_id" in df.columns:
        missing = df["la_child_id"].isna()
        for loc in df.loc[missing, LOC]:
            sink.add("KEY-001", str(loc), "la_child_id")
        keep &= ~missing
    primary = PRIMARY_DATE.get(name)
    if primary and primary in df.columns:
        missing = df[primary].isna() & keep
        for loc in df.loc[missing, LOC]:
            sink.add("DATE-007", str(loc), primary, table=name)
        keep &= ~missing
    if name == "la_month_aggregates" and "value" in df.columns:
        keep &= df["value"].notna()  # the rejected value was reported already
    return df[keep].reset_index(drop=True)


def _check_order(df: pd.DataFrame, name: str, sink: Collector) -> None:
    pair = ORDER.get(name)
    if pair and pair[0] in df.columns and pair[1] in df.columns:
        start, end = df[pair[0]], df[pair[1]]
        both = start.notna() & end.notna()
        bad = both & pd.Series([e < s if b else False for s, e, b in zip(start, end, both, strict=True)])
        for loc in df.loc[bad, LOC]:
            sink.add("DATE-005", str(loc), pair[1], table=name)
    start_col = PRIMARY_DATE.get(name)
    if "referral_date" in df.columns and start_col and start_col != "referral_date" and start_col in df.columns:
        ref, ev = df["referral_date"], df[start_col]
        # An assessment may start on the referral day; anything earlier is out of order.
        bad = pd.Series([r is not None and e is not None and e < r for r, e in zip(ref, ev, strict=True)])
        for loc in df.loc[bad.to_numpy(), LOC]:
            sink.add("DATE-006", str(loc), start_col, table=name)


def _derive(tables: dict[str, pd.DataFrame]) -> None:
    """Flags derived from recoded values: unborn referrals, kinship placements, returns home."""
    eps = tables.get("cla_episodes")
    if eps is not None:
        if "placement_type" in eps.columns:
            eps["kinship"] = eps["placement_type"].map(is_kinship).astype(object)
        if "reason_end" in eps.columns:
            eps["returned_home"] = eps["reason_end"].map(is_return_home).astype(object)
    refs = tables.get("referrals")
    if refs is None:
        return
    children = tables.get("children")
    unborn_ids: set[object] = set()
    if children is not None:
        has_expected = children["expected_birth"].notna() if "expected_birth" in children.columns else False
        unborn_gender = children["gender"].isin(["unborn"]) if "gender" in children.columns else False
        no_birth = children["birth_month"].isna() if "birth_month" in children.columns else True
        mask = (has_expected | unborn_gender) & no_birth
        if isinstance(mask, pd.Series):
            unborn_ids = set(children.loc[mask, "la_child_id"])
    births = refs["birth_month"] if "birth_month" in refs.columns else pd.Series([None] * len(refs))
    unborn = []
    for cid, ref, birth in zip(refs["la_child_id"], refs["referral_date"], births, strict=True):
        if birth is not None and ref is not None:
            unborn.append(datelib.month_index(ref) < datelib.month_index(birth))
        else:
            unborn.append(cid in unborn_ids)
    refs["unborn"] = pd.Series(unborn, index=refs.index, dtype=object)
