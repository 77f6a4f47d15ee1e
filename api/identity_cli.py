"""`veil identity`: probabilistic matching runs and the review queue (acting as the system, audited)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from access.principal import Principal, PrincipalKind
from api.container import Container
from api.identity_wiring import build_service
from audit.service import AuditUnavailable
from core.errors import VeilError
from graph.resolution import Candidate
from resolution.service import ResolutionService

identity_app = typer.Typer(help="Probabilistic identity resolution: run matching, review pairs, undo merges.",
                           no_args_is_help=True)
console = Console(stderr=True)
Workspace = Annotated[str | None, typer.Option("--workspace", "--tenant", "-w",
                                               help="Workspace (tenant); default VEIL_DEFAULT_WORKSPACE")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON")]
Actor = Annotated[str, typer.Option(help="Who acts (recorded in the ledger and the audit trail)")]


def _principal(c: Container, workspace: str | None, actor: str) -> Principal:
    name = actor if actor.startswith("system:") else f"system:{actor}"
    return Principal(id=name, kind=PrincipalKind.SYSTEM, workspace=workspace or c.app.default_workspace,
                     roles=("system",))


def _run(fn: Any) -> Any:
    from api.cli import _container

    c = _container()
    try:
        return fn(c, build_service(c))
    except VeilError as exc:
        where = f" ({exc.field})" if exc.field else ""
        console.print(f"[red]{exc.code}:[/red] {exc.message}{where}")
        raise typer.Exit(1) from exc
    except AuditUnavailable as exc:
        console.print("[red]the audit trail is unavailable; nothing was done[/red]")
        raise typer.Exit(3) from exc
    finally:
        c.close()


def _candidate_dict(x: Candidate) -> dict[str, Any]:
    d = asdict(x)
    for k in ("decided_at", "created_at"):
        d[k] = d[k].isoformat() if d[k] else None
    return d


@identity_app.command("run")
def run(workspace: Workspace = None, incremental: Annotated[bool, typer.Option(
            "--incremental", help="Only profiles written since the last run, with the stored model")] = False,
        actor: Actor = "cli", as_json: AsJson = False) -> None:
    """Match the workspace's profiles: merge above the upper threshold, queue the middle band."""
    report = _run(lambda c, s: s.run(_principal(c, workspace, actor), incremental=incremental))
    if as_json:
        print(json.dumps(asdict(report)))
        return
    console.print(f"run {report.run_id} ({report.mode}): {report.profiles} profiles, {report.pairs} pairs scored, "
                  f"{report.merged} merged, {report.queued} queued for review, {report.blocked} blocked by "
                  f"identifier limits, {report.seconds} s")


@identity_app.command("review")
def review(workspace: Workspace = None, status: Annotated[str, typer.Option(
               help="pending, merged, rejected or blocked")] = "pending",
           limit: Annotated[int, typer.Option(help="Most items to show (1-1000)")] = 50,
           actor: Actor = "cli", as_json: AsJson = False) -> None:
    """List review items, most probable first, with the evidence per comparison."""
    items = _run(lambda c, s: s.review_items(_principal(c, workspace, actor), status=status, limit=limit))
    if as_json:
        print(json.dumps([_candidate_dict(x) for x in items], ensure_ascii=False))
        return
    t = Table("id", "profiles", "probability", "weight", "evidence (comparison: level, weight)", "conflicts")
    for x in items:
        ev = "; ".join(f"{e[0]}: {e[1]} ({e[2]:+.1f})" for e in x.evidence)
        t.add_row(x.id, f"{x.left}\n{x.right}", f"{x.probability:.4f}", f"{x.weight:.1f}", ev,
                  ", ".join(x.conflicts))
    Console().print(t)


@identity_app.command("approve")
def approve(candidate_id: str, workspace: Workspace = None, actor: Actor = "cli") -> None:
    """Accept a pair: the two profiles merge (undo with `veil identity unmerge MERGE_ID`)."""
    merge_id = _run(lambda c, s: s.approve(_principal(c, workspace, actor), candidate_id=candidate_id))
    console.print(f"merged: {merge_id}")
    print(merge_id)


@identity_app.command("reject")
def reject(candidate_id: str, workspace: Workspace = None, actor: Actor = "cli") -> None:
    """Reject a pair: it is remembered and never proposed again."""
    _run(lambda c, s: s.reject(_principal(c, workspace, actor), candidate_id=candidate_id))
    console.print(f"rejected: {candidate_id}")


@identity_app.command("explain")
def explain(merge_id: str, workspace: Workspace = None, actor: Actor = "cli") -> None:
    """Why two profiles merged: probability, weight and each comparison's level and weight (JSON)."""
    info = _run(lambda c, s: s.explain(_principal(c, workspace, actor), merge_id=merge_id))
    print(json.dumps(info, ensure_ascii=False, default=str, indent=2))


@identity_app.command("unmerge")
def unmerge(merge_id: str, workspace: Workspace = None, actor: Actor = "cli") -> None:
    """Undo a merge; a probabilistic pair is then remembered as rejected."""
    moved = _run(lambda c, s: s.unmerge(_principal(c, workspace, actor), merge_id=merge_id))
    console.print(f"merge {merge_id} undone; {moved} interactions moved back")


@identity_app.command("thresholds")
def thresholds(workspace: Workspace = None,
               auto_merge: Annotated[float | None, typer.Option(help="Merge automatically at or above")] = None,
               review_at: Annotated[float | None, typer.Option("--review", help="Queue at or above")] = None,
               actor: Actor = "cli") -> None:
    """Show, or set (both options), the workspace's match-probability thresholds."""
    if (auto_merge is None) != (review_at is None):
        raise typer.BadParameter("give both --auto-merge and --review, or neither")

    def work(c: Container, s: ResolutionService) -> Any:
        p = _principal(c, workspace, actor)
        if auto_merge is not None and review_at is not None:
            return s.set_thresholds(p, auto_merge=auto_merge, review=review_at)
        return s.thresholds(p)

    th = _run(work)
    print(json.dumps({"auto_merge": th.auto_merge, "review": th.review}))
