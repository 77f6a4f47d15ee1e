"""`veil dsr`: data-subject request cases from the command line (acting as the system, audited)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from access.principal import Principal
from api.cli.common import AsJson, Workspace, console, operator_session
from api.container import Container
from collect.normalize import normalize_email, normalize_phone
from graph.dsr import DsrCaseRecord
from privacy.dsr import CLOSED, DsrError

dsr_app = typer.Typer(help="Data-subject requests: create, list, show, advance, export.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `dsr` group to the root app."""
    app.add_typer(dsr_app, name="dsr", help="Data-subject requests: create, list, show, advance, export.")


def _as_dict(case: DsrCaseRecord) -> dict[str, Any]:
    return {"id": case.id, "kind": case.kind, "subject": case.subject, "state": case.state,
            "received_at": case.received_at.isoformat(), "due_at": case.due_at.isoformat(),
            "overdue": case.state not in CLOSED and case.due_at < datetime.now(UTC),
            "requested_by": case.requested_by, "history": [h.__dict__ for h in case.history], "result": case.result}


def _run(workspace: str | None, fn: Any) -> Any:
    """Run `fn(container, operator)`; DSR errors print their code and exit 1."""
    with operator_session(workspace) as (c, me):
        try:
            return fn(c, me)
        except DsrError as exc:
            console.print(f"[red]{exc.code}:[/red] {exc.message}")
            raise typer.Exit(1) from exc


def _print_case(case: DsrCaseRecord, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_as_dict(case), ensure_ascii=False))
        return
    d = _as_dict(case)
    out = Console()
    out.print(f"[bold]{d['id']}[/bold] {d['kind']} for {d['subject']}: {d['state']}"
              f"{' [red](overdue)[/red]' if d['overdue'] else ''}, due {d['due_at']}")
    for h in case.history:
        out.print(f"  {h.at}  {h.state:<9} by {h.actor}")
    if case.result:
        out.print(f"  result: {json.dumps(case.result, ensure_ascii=False)}")


def _identifier(c: Container, raw: str) -> tuple[str, str]:
    kind, _, value = raw.partition(":")
    if kind == "email":
        norm = normalize_email(value)
    elif kind == "phone":
        norm = normalize_phone(value, default_region=c.collect.default_region)
    else:
        norm = value.strip() or None
    if not kind or norm is None:
        raise typer.BadParameter(f"not a usable identifier: {raw!r} (type:value)")
    return kind, norm


@dsr_app.command("create")
def create(kind: Annotated[str, typer.Argument(help="access, erasure, rectification, restriction or objection")],
           profile: Annotated[str | None, typer.Option(help="Profile id")] = None,
           identifier: Annotated[str | None, typer.Option(help="type:value, e.g. email:amy@example.com")] = None,
           changes: Annotated[str | None, typer.Option(help="Rectification: JSON object of corrected traits")] = None,
           workspace: Workspace = None, as_json: AsJson = False) -> None:
    """Open a case (received); the deadline runs from now."""
    if not profile and not identifier:
        raise typer.BadParameter("give --profile or --identifier")
    try:
        parsed = json.loads(changes) if changes else None
    except ValueError as exc:
        raise typer.BadParameter(f"--changes is not JSON: {exc}") from exc

    def work(c: Container, me: Principal) -> DsrCaseRecord:
        ident = _identifier(c, identifier) if identifier else None
        return c.dsr.create(principal=me, kind=kind, profile_id=profile, identifier=ident,
                            changes=parsed)

    _print_case(_run(workspace, work), as_json)


@dsr_app.command("list")
def list_cases(state: Annotated[str | None, typer.Option(help="Only this state")] = None,
               kind: Annotated[str | None, typer.Option(help="Only this kind")] = None,
               overdue: Annotated[bool, typer.Option("--overdue", help="Only open cases past their deadline")] = False,
               limit: int = 100, workspace: Workspace = None, as_json: AsJson = False) -> None:
    """Cases, newest first."""
    rows = _run(workspace, lambda c, me: c.dsr.cases(principal=me, state=state, kind=kind, overdue=overdue,
                                      limit=limit))
    if as_json:
        print(json.dumps([_as_dict(r) for r in rows], ensure_ascii=False))
        return
    table = Table("id", "kind", "subject", "state", "received", "due", "overdue")
    for r in rows:
        d = _as_dict(r)
        table.add_row(r.id, r.kind, r.subject, r.state, d["received_at"][:10], d["due_at"][:10],
                      "yes" if d["overdue"] else "")
    Console().print(table)


@dsr_app.command("show")
def show(case_id: str, workspace: Workspace = None, as_json: AsJson = False) -> None:
    """One case with its history and result."""
    _print_case(_run(workspace, lambda c, me: c.dsr.get(principal=me, case_id=case_id)), as_json)


@dsr_app.command("advance")
def advance(case_id: str, to: Annotated[str | None, typer.Option(help="Target state (default: the next one)")] = None,
            workspace: Workspace = None, as_json: AsJson = False) -> None:
    """Move a case on; advancing an approved case runs it (then done or failed)."""
    _print_case(_run(workspace, lambda c, me: c.dsr.advance(principal=me, case_id=case_id, to=to)),
                as_json)


@dsr_app.command("export")
def export(case_id: str, out: Annotated[Path, typer.Option("--out", "-o", help="Where to copy the zip")],
           workspace: Workspace = None) -> None:
    """Copy the package (zip of JSON and CSV) of a finished access request."""
    path = _run(workspace, lambda c, me: c.dsr.package(principal=me, case_id=case_id))
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out)
    out.chmod(0o600)
    console.print(f"package of {case_id} written to {out}")
