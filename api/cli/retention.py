"""`veil retention purge`: delete interactions past their retention period (audited, batched)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import operator_session, progress
from audit.events import Actor, ActorKind

retention_app = typer.Typer(help="Retention of interactions.", no_args_is_help=True)
console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Attach the `retention` group to the root app."""
    app.add_typer(retention_app, name="retention", help="Retention of interactions: purge expired ones.")


@retention_app.command("purge")
def purge(workspace: Annotated[str | None, typer.Option("--workspace", "--tenant", "-w",
                                                        help="Workspace (tenant); default VEIL_DEFAULT_WORKSPACE")] = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted")] = False) -> None:
    """Delete expired interactions per the retention policy, with a progress bar."""
    with operator_session(workspace) as (c, me):
        c.admin.operate(me, "retention", reason="dry_run" if dry_run else "purge")
        with progress() as bar:
            task = bar.add_task(f"purging expired interactions in {me.workspace}", total=None)
            report = c.retention.purge(
                workspace=me.workspace, actor=Actor(id=me.id, kind=ActorKind.OPERATOR, role=",".join(me.roles)),
                dry_run=dry_run, on_plan=lambda total: bar.update(task, total=total),
                progress=lambda n: bar.advance(task, n))
    ws = me.workspace
    table = Table("rule", "kept (days)", "older than", "would delete" if dry_run else "deleted")
    for line in report.lines:
        table.add_row(line.rule.label, str(line.rule.days), line.cutoff.date().isoformat(), str(line.count))
    Console().print(table)
    console.print(f"{'would delete' if dry_run else 'deleted'} {report.total} interactions in {ws}")
