"""`veil analytics` (model refresh, stage transitions, campaign costs) and `veil segments`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import PurposeOpt, Workspace, console, operator_session, progress, read_context

analytics_app = typer.Typer(help="Lifecycle and prediction models, attribution, reporting.", no_args_is_help=True)
segments_app = typer.Typer(help="Saved segments: evaluate membership.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `analytics` and `segments` groups to the root app."""
    app.add_typer(analytics_app, name="analytics")
    app.add_typer(segments_app, name="segments")


@analytics_app.command("refresh")
def refresh(workspace: Workspace = None) -> None:
    """Recompute RFM, NASLD, BG/NBD and Gamma-Gamma scores of every active buyer; store them."""
    with operator_session(workspace) as (c, me):
        ws = me.workspace
        with progress() as bar:
            task = bar.add_task(f"scoring {ws}", total=None)

            def step(_what: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = c.reports.refresh_scores(me, progress=step)
    table = Table(title=f"{ws}: {report.customers} customers, {report.orders} orders, "
                        f"cycle {report.cycle_days:.1f} days")
    table.add_column("NASLD stage")
    table.add_column("customers", justify="right")
    for stage, n in report.stages.items():
        table.add_row(stage, str(n))
    console.print(table)
    if report.bgnbd is not None:
        b = report.bgnbd
        console.print(f"BG/NBD r={b.r:.3f} alpha={b.alpha:.3f} a={b.a:.3f} b={b.b:.3f} (days)")
    else:
        console.print(f"predictions skipped: {report.predictions_skipped}")
    console.print(f"cleared stale scores: {report.cleared}; seconds: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items()))


@analytics_app.command("transitions")
def transitions(month: Annotated[str | None, typer.Option(help="YYYY-MM; default this month")] = None,
                purpose: PurposeOpt = "analytics", workspace: Workspace = None) -> None:
    """The NASLD transition matrix from the previous month to `month` (cells under k hidden for roles
    that may not see individuals)."""
    with operator_session(workspace) as (c, me):
        ctx = read_context(c, me, purpose)
        from_month, to_month, stages, cells = c.reports.transitions(ctx, month=month)
    table = Table(title=f"{me.workspace}: {from_month} (rows) -> {to_month} (columns)")
    table.add_column("")
    for s in stages:
        table.add_column(s, justify="right")
    for label, row in zip([*stages, "(new)"], cells, strict=False):
        table.add_row(label, *("<k" if n is None else str(n) for n in row))
    console.print(table)


@segments_app.command("evaluate")
def evaluate(segment: Annotated[str | None, typer.Option("--segment", "-s", help="Segment id; default all")] = None,
             realtime_only: Annotated[bool, typer.Option(help="Only segments marked realtime")] = False,
             workspace: Workspace = None) -> None:
    """Recompute saved segment membership (opens and closes IN_SEGMENT history)."""
    with operator_session(workspace) as (c, me):
        ctx = read_context(c, me, "analytics")
        if segment:
            results = [c.segment_cases.evaluate(ctx, segment)]
        else:
            results = c.segment_cases.evaluate_all(ctx, realtime_only=realtime_only)
    for r in results:
        print(json.dumps({"segment": r.segment_id, "entered": r.entered, "left": r.left, "size": r.size,
                          "at": r.at.isoformat()}))


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@analytics_app.command("cost")
def cost(channel: Annotated[str, typer.Option(help="Channel, e.g. google, facebook, email, line")],
         amount: Annotated[float, typer.Option(help="Money spent")],
         starts: Annotated[str, typer.Option(help="Start of the period (ISO date/time, UTC if no zone)")],
         ends: Annotated[str, typer.Option(help="End of the period (exclusive)")],
         campaign: Annotated[str | None, typer.Option(help="Campaign name (utm_campaign)")] = None,
         currency: Annotated[str, typer.Option()] = "TWD", workspace: Workspace = None) -> None:
    """Enter a campaign cost (used for ROAS); audited."""
    with operator_session(workspace) as (c, me):
        ctx = read_context(c, me, "analytics")
        try:
            cost_id = c.reports.record_cost(ctx, channel=channel, campaign=campaign, amount=amount,
                                            currency=currency, starts=_when(starts), ends=_when(ends))
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    print(cost_id)
