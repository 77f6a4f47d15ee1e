"""`veil audit`: verify the trail, sign a checkpoint, export a workspace's records."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli.common import operator_session
from audit.checkpoint import CheckpointKeyError
from audit.events import AuditAction, InvalidAuditEvent
from audit.service import AuditUnavailable, CheckpointRefused

audit_app = typer.Typer(help="The audit trail: verify, checkpoint, export.", no_args_is_help=True)
console = Console(stderr=True)
AfterSeq = Annotated[int, typer.Option("--after-seq", min=0,
                                       help="Start after this seq, trusted (e.g. a verified checkpoint)")]


class ExportFormat(str, Enum):
    """Export file formats."""

    JSONL = "jsonl"
    CSV = "csv"


def register(app: typer.Typer) -> None:
    """Attach the `audit` group to the root app."""
    app.add_typer(audit_app, name="audit", help="Verify, checkpoint and export the audit trail.")


def _config_error(what: str, exc: Exception) -> typer.Exit:
    console.print(f"[red]{what}:[/red] {exc}")
    return typer.Exit(2)


@audit_app.command("verify")
def verify(after_seq: AfterSeq = 0,
           as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False) -> None:
    """Verify the hash chain and the signed checkpoints; exit 1 naming the first bad seq."""
    with operator_session(None) as (c, me):
        # Authorized, not recorded: a record appended while verifying would move the head it checks.
        c.guard.require(me, "audit", "read", audit_allow=False)
        try:
            result = c.audit.verify(after_seq=after_seq)
        except CheckpointKeyError as exc:
            raise _config_error("checkpoint key error", exc) from exc
        except ValueError as exc:  # a malformed line in the outside copy of the checkpoints
            raise _config_error("checkpoint copy error", exc) from exc
    if as_json:
        typer.echo(json.dumps(result.as_dict(), sort_keys=True))
    elif result.ok:
        head = result.last_seq if result.last_seq is not None else after_seq
        typer.echo(f"ok: {result.checked} records checked, head at seq {head}; {result.detail}")
    else:
        problem = result.problem.value if result.problem else "unknown"
        typer.echo(f"broken at seq {result.broken_seq}: {problem}: {result.detail}")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint(after_seq: AfterSeq = 0) -> None:
    """Sign a checkpoint at the head now (after verifying the chain since the latest one)."""
    with operator_session(None) as (c, me):
        c.guard.require(me, "audit", "write", audit_allow=False)  # the checkpoint is its own record
        try:
            made = c.audit.checkpoint(after_seq=after_seq)
        except CheckpointKeyError as exc:
            raise _config_error("checkpoint key error", exc) from exc
        except CheckpointRefused as exc:
            r = exc.result
            problem = r.problem.value if r.problem else "unknown"
            typer.echo(f"refused: broken at seq {r.broken_seq}: {problem}: {r.detail}")
            raise typer.Exit(1) from exc
    if made is None:
        typer.echo("no checkpoint: the chain is empty or VEIL_AUDIT_CHECKPOINT_KEY_FILE is unset")
        return
    typer.echo(f"checkpoint at seq {made.seq}: hash {made.hash}, key id {made.key_id}")


@audit_app.command("export")
def export(
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace whose records to export")],
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="Output file")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl (re-verifiable) or csv")] = ExportFormat.JSONL,
) -> None:
    """Export a workspace's audit records; the export itself is recorded first."""
    if not workspace.strip():
        raise typer.BadParameter("give a workspace", param_hint="--workspace")
    with operator_session(workspace) as (c, me):
        try:
            # Authorized and recorded before anything is written: no unaudited export.
            c.guard.require(me, "audit", "export", audit_action=AuditAction.EXPORT, reason="cli_export",
                            extra={"format": fmt.value})
            result = c.audit.export(workspace, out, fmt=fmt.value)
        except AuditUnavailable as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from exc
        except InvalidAuditEvent as exc:
            raise typer.BadParameter(str(exc), param_hint="--workspace") from exc
    console.print(f"wrote {result.records} records ({result.redacted} redacted), seq "
                  f"{result.first_seq}..{result.last_seq}, last hash {result.last_hash} to {result.path}")
