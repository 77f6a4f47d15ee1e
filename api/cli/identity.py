"""`veil identity`: probabilistic matching runs and the review queue, as a CLI operator (audited)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import AsJson, Workspace, console, operator_session
from api.identity_wiring import build_service
from graph.resolution import Candidate

identity_app = typer.Typer(help="Probabilistic identity resolution: run matching, review pairs, undo merges.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `identity` group to the root app."""
    app.add_typer(identity_app, name="identity")


def _candidate_dict(x: Candidate) -> dict[str, Any]:
    d = asdict(x)
    for k in ("decided_at", "created_at"):
        d[k] = d[k].isoformat() if d[k] else None
    return d


@identity_app.command("run")
def run(workspace: Workspace = None, incremental: Annotated[bool, typer.Option(
            "--incremental", help="Only profiles written since the last run, with the stored model")] = False,
        as_json: AsJson = False) -> None:
    """Match the workspace's profiles: merge above the upper threshold, queue the middle band."""
    with operator_session(workspace) as (c, principal):
        report = build_service(c).run(principal, incremental=incremental)
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
           as_json: AsJson = False) -> None:
    """List review items, most probable first, with the evidence per comparison."""
    with operator_session(workspace) as (c, principal):
        items = build_service(c).review_items(principal, status=status, limit=limit)
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
def approve(candidate_id: str, workspace: Workspace = None) -> None:
    """Accept a pair: the two profiles merge (undo with `veil identity unmerge MERGE_ID`)."""
    with operator_session(workspace) as (c, principal):
        merge_id = build_service(c).approve(principal, candidate_id=candidate_id)
    console.print(f"merged: {merge_id}")
    print(merge_id)


@identity_app.command("reject")
def reject(candidate_id: str, workspace: Workspace = None) -> None:
    """Reject a pair: it is remembered and never proposed again."""
    with operator_session(workspace) as (c, principal):
        build_service(c).reject(principal, candidate_id=candidate_id)
    console.print(f"rejected: {candidate_id}")


@identity_app.command("explain")
def explain(merge_id: str, workspace: Workspace = None) -> None:
    """Why two profiles merged: probability, weight and each comparison's level and weight (JSON)."""
    with operator_session(workspace) as (c, principal):
        info = build_service(c).explain(principal, merge_id=merge_id)
    print(json.dumps(info, ensure_ascii=False, default=str, indent=2))


@identity_app.command("unmerge")
def unmerge(merge_id: str, workspace: Workspace = None) -> None:
    """Undo a merge; a probabilistic pair is then remembered as rejected."""
    with operator_session(workspace) as (c, principal):
        moved = build_service(c).unmerge(principal, merge_id=merge_id)
    console.print(f"merge {merge_id} undone; {moved} interactions moved back")


@identity_app.command("thresholds")
def thresholds(workspace: Workspace = None,
               auto_merge: Annotated[float | None, typer.Option(help="Merge automatically at or above")] = None,
               review_at: Annotated[float | None, typer.Option("--review", help="Queue at or above")] = None) -> None:
    """Show, or set (both options), the workspace's match-probability thresholds."""
    if (auto_merge is None) != (review_at is None):
        raise typer.BadParameter("give both --auto-merge and --review, or neither")
    with operator_session(workspace) as (c, principal):
        service = build_service(c)
        if auto_merge is not None and review_at is not None:
            th = service.set_thresholds(principal, auto_merge=auto_merge, review=review_at)
        else:
            th = service.thresholds(principal)
    print(json.dumps({"auto_merge": th.auto_merge, "review": th.review}))
