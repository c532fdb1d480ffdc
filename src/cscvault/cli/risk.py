"""`cscvault risk`: re-identification risk of the data held, as counts and rates only (role dpo or admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cscvault import api
from cscvault.cli.credentials import credentials
from cscvault.cli.options import JsonOption, KeysOption, RecoveryOption, UserOption, VaultArg, key_list
from cscvault.cli.output import print_json

if TYPE_CHECKING:
    from cscvault.api import RiskLine, RiskReport


def risk(
    vault: VaultArg,
    keys: KeysOption = None,
    what_if: Annotated[
        bool, typer.Option("--what-if", help="Also measure each candidate generalisation and re-fit the primary model.")
    ] = False,
    user: UserOption = None,
    recovery: RecoveryOption = False,
    json_: JsonOption = False,
) -> None:
    """Re-identification risk: uniques, k-anonymity, individual and global risk, SUDA special uniques,
    l-diversity, per LA and overall, through the disclosure profile. No child-level value is shown."""
    report = api.risk(vault, credentials(user, recovery), key_list(keys), what_if)
    if json_:
        print_json(report.to_json())
        return
    _print(report)


def _n(value: int | None) -> str:
    return "withheld" if value is None else f"{value:,}"


def _pct(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return ""
    return f" ({100 * part / whole:.1f}%)"


def _print(report: RiskReport) -> None:
    c: RiskLine = report.current
    typer.echo(f"Re-identification risk of the data held, {report.generated_at} (profile {report.profile['profile']})")
    typer.echo(f"keys: {', '.join(report.keys)}")
    typer.echo(f"children {_n(c.children)}; key combinations {c.combinations:,}")
    typer.echo(f"sample uniques {_n(c.sample_uniques)}{_pct(c.sample_uniques, c.children)}")
    typer.echo(f"in combinations smaller than 3: {_n(c.below_k3)}; smaller than 5: {_n(c.below_k5)}")
    typer.echo(
        f"expected re-identifications {c.expected_reidentifications:.2f} (global risk {c.global_risk_pct:.3f}%); "
        f"highest individual risk {c.max_individual_risk:.4f}; records at high risk {_n(c.high_risk_records)}"
    )
    if c.special_uniques is not None:
        typer.echo(
            f"SUDA special uniques {_n(c.special_uniques)} (threshold: score > 0); unique on one key alone: "
            f"{_n(c.single_key_uniques)}; highest score {c.max_suda_score:g}"
        )
    for label, n in c.homogeneous.items():
        typer.echo(f"l-diversity, {label.replace('_', ' ')}: children in homogeneous groups {_n(n)}")
    typer.echo("")
    typer.echo(f"{'LA':<24}{'children':>10}{'uniques':>10}{'<3':>8}{'<5':>8}{'special':>9}{'ER':>9}")
    for row in report.per_la:
        er = row.get("expected_reidentifications")
        typer.echo(
            f"{row['la']:<24}{_n(row.get('children')):>10}{_n(row.get('sample_uniques')):>10}"
            f"{_n(row.get('below_k3')):>8}{_n(row.get('below_k5')):>8}{_n(row.get('special_uniques')):>9}"
            f"{'' if er is None else f'{er:.2f}':>9}"
        )
    if report.what_if:
        typer.echo("")
        typer.echo(
            f"{'what if':<16}{'uniques':>10}{'<5':>8}{'special':>9}{'ER':>9}{'estimate':>10}{'change':>9}{'SE %':>8}"
        )
        typer.echo(
            f"{'as held':<16}{_n(c.sample_uniques):>10}{_n(c.below_k5):>8}{_n(c.special_uniques):>9}"
            f"{c.expected_reidentifications:>9.2f}{_f(report.primary_estimate):>10}{'':>9}{'':>8}"
        )
        for w in report.what_if:
            r = w.risk
            typer.echo(
                f"{w.generalisation:<16}{_n(r.sample_uniques):>10}{_n(r.below_k5):>8}{_n(r.special_uniques):>9}"
                f"{r.expected_reidentifications:>9.2f}{_f(w.estimate):>10}{_f(w.estimate_change):>9}"
                f"{_f(w.se_change_pct, 1):>8}"
            )
        typer.echo("estimate: log odds ratio of the treatment, primary model, complete case, Laplace")


def _f(value: float | None, places: int = 3) -> str:
    return "" if value is None else f"{value:.{places}f}"
