"""`veil analytics` (model refresh, stage transitions, campaign costs) and `veil segments`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.container import Container
from audit.events import AuditAction, AuditEvent, Decision

analytics_app = typer.Typer(help="Lifecycle and prediction models, attribution, reporting.", no_args_is_help=True)
segments_app = typer.Typer(help="Saved segments: evaluate membership.", no_args_is_help=True)
console = Console(stderr=True)
Workspace = Annotated[str | None, typer.Option("--workspace", "--tenant", "-w",
                                               help="Workspace (tenant); default VEIL_DEFAULT_WORKSPACE")]


def _container() -> Container:
    from api.cli import _container as cli_container

    return cli_container()


def _audit(c: Container, workspace: str, action: AuditAction, resource: str, reason: str,
           **extra: str | int | None) -> None:
    c.audit.record(AuditEvent.create(workspace=workspace, actor="system:cli", actor_kind="system", role="system",
                                      action=action, resource=resource, decision=Decision.ALLOW, reason=reason,
                                      extra=extra))


@analytics_app.command("refresh")
def refresh(workspace: Workspace = None) -> None:
    """Recompute RFM, NASLD, BG/NBD and Gamma-Gamma scores of every active buyer; store them."""
    from api.cli import _progress

    c = _container()
    ws = workspace or c.app.default_workspace
    try:
        with _progress() as bar:
            task = bar.add_task(f"scoring {ws}", total=None)

            def step(_what: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = c.analytics.refresh(workspace=ws, progress=step)
        _audit(c, ws, AuditAction.WRITE, "analytics.scores", "refreshed", customers=report.customers)
    finally:
        c.close()
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
                workspace: Workspace = None) -> None:
    """The NASLD transition matrix from the previous month to `month`."""
    c = _container()
    ws = workspace or c.app.default_workspace
    try:
        m = c.analytics.transition_matrix(workspace=ws, month=month)
        _audit(c, ws, AuditAction.READ, "aggregates", "transitions")
    finally:
        c.close()
    table = Table(title=f"{ws}: {m.from_month} (rows) -> {m.to_month} (columns)")
    table.add_column("")
    for s in m.stages:
        table.add_column(s, justify="right")
    table.add_column("left", justify="right")
    for s, row, out in zip(m.stages, m.counts, m.exited, strict=True):
        table.add_row(s, *map(str, row), str(out))
    table.add_row("(new)", *map(str, m.entered), "")
    console.print(table)


@segments_app.command("evaluate")
def evaluate(segment: Annotated[str | None, typer.Option("--segment", "-s", help="Segment id; default all")] = None,
             realtime_only: Annotated[bool, typer.Option(help="Only segments marked realtime")] = False,
             workspace: Workspace = None) -> None:
    """Recompute saved segment membership (opens and closes IN_SEGMENT history)."""
    c = _container()
    ws = workspace or c.app.default_workspace
    try:
        if segment:
            results = [c.segments.evaluate(workspace=ws, segment_id=segment)]
        else:
            results = c.segments.evaluate_all(workspace=ws, realtime_only=realtime_only)
        _audit(c, ws, AuditAction.WRITE, "segments", "evaluated", segments=len(results))
    finally:
        c.close()
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
    from analytics.attribution import AttributionService
    from graph.attribution import AttributionRepository

    c = _container()
    ws = workspace or c.app.default_workspace
    try:
        svc = AttributionService(repo=AttributionRepository(c.driver, database=c.neo4j.database),
                                 settings=c.analytics_settings)
        try:
            cost_id = svc.add_cost(workspace=ws, channel=channel, campaign=campaign, amount=amount,
                                   currency=currency, starts=_when(starts), ends=_when(ends), actor="system:cli")
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        _audit(c, ws, AuditAction.WRITE, "campaign_costs", "recorded", cost=cost_id)
    finally:
        c.close()
    print(cost_id)
