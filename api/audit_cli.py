"""`veil audit`: verify the trail, sign a checkpoint, export a workspace's records."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.container import Container
from audit.checkpoint import CheckpointKeyError
from audit.events import Actor, AuditAction, AuditEvent, Decision, InvalidAuditEvent
from audit.service import AuditUnavailable, CheckpointRefused

audit_app = typer.Typer(help="The audit trail: verify, checkpoint, export.", no_args_is_help=True)
console = Console(stderr=True)
CLI_ACTOR = Actor.system("system:cli")
AfterSeq = Annotated[int, typer.Option("--after-seq", min=0,
                                       help="Start after this seq, trusted (e.g. a verified checkpoint)")]


class ExportFormat(str, Enum):
    """Export file formats."""

    JSONL = "jsonl"
    CSV = "csv"


def _container() -> Container:
    # The `veil` CLI's wiring (logs to stderr, config errors exit 2); imported here because
    # api.cli imports this module to mount `audit_app`.
    from api.cli import _container as cli_container

    return cli_container()


def _config_error(what: str, exc: Exception) -> typer.Exit:
    console.print(f"[red]{what}:[/red] {exc}")
    return typer.Exit(2)


@audit_app.command("verify")
def verify(after_seq: AfterSeq = 0,
           as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False) -> None:
    """Verify the hash chain and the signed checkpoints; exit 1 naming the first bad seq."""
    c = _container()
    try:
        result = c.audit.verify(after_seq=after_seq)
    except CheckpointKeyError as exc:
        raise _config_error("checkpoint key error", exc) from exc
    except ValueError as exc:  # a malformed line in the outside copy of the checkpoints
        raise _config_error("checkpoint copy error", exc) from exc
    finally:
        c.close()
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
    c = _container()
    try:
        made = c.audit.checkpoint(after_seq=after_seq)
    except CheckpointKeyError as exc:
        raise _config_error("checkpoint key error", exc) from exc
    except CheckpointRefused as exc:
        r = exc.result
        problem = r.problem.value if r.problem else "unknown"
        typer.echo(f"refused: broken at seq {r.broken_seq}: {problem}: {r.detail}")
        raise typer.Exit(1) from exc
    finally:
        c.close()
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
    try:
        event = AuditEvent.create(workspace=workspace, actor=CLI_ACTOR, action=AuditAction.EXPORT,
                                  resource="audit", decision=Decision.ALLOW, reason="cli_export",
                                  extra={"format": fmt.value})
    except InvalidAuditEvent as exc:
        raise typer.BadParameter(str(exc), param_hint="--workspace") from exc
    c = _container()
    try:
        c.audit.record(event)  # before anything is written: no unaudited export
        result = c.audit.export(workspace, out, fmt=fmt.value)
    except AuditUnavailable as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    finally:
        c.close()
    console.print(f"wrote {result.records} records ({result.redacted} redacted), seq "
                  f"{result.first_seq}..{result.last_seq}, last hash {result.last_hash} to {result.path}")
