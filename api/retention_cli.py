"""`veil retention purge`: delete interactions past their retention period (audited, batched)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli import _container, _progress
from audit.events import Actor
from audit.service import AuditUnavailable

retention_app = typer.Typer(help="Retention of interactions.", no_args_is_help=True)
console = Console(stderr=True)


@retention_app.command("purge")
def purge(workspace: Annotated[str | None, typer.Option("--workspace", "--tenant", "-w",
                                                        help="Workspace (tenant); default VEIL_DEFAULT_WORKSPACE")] = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted")] = False) -> None:
    """Delete expired interactions per the retention policy, with a progress bar."""
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        with _progress() as progress:
            task = progress.add_task(f"purging expired interactions in {ws}", total=None)
            report = c.retention.purge(
                workspace=ws, actor=Actor.system("system:cli"), dry_run=dry_run,
                on_plan=lambda total: progress.update(task, total=total),
                progress=lambda n: progress.advance(task, n))
    except AuditUnavailable as exc:
        console.print("[red]the audit trail is unavailable; nothing was deleted[/red]")
        raise typer.Exit(3) from exc
    finally:
        c.close()
    table = Table("rule", "kept (days)", "older than", "would delete" if dry_run else "deleted")
    for line in report.lines:
        table.add_row(line.rule.label, str(line.rule.days), line.cutoff.date().isoformat(), str(line.count))
    Console().print(table)
    console.print(f"{'would delete' if dry_run else 'deleted'} {report.total} interactions in {ws}")
