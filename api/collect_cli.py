"""CLI for browser collection: `veil sources origins` (CORS origins a source's write key accepts)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli import Workspace, _audit_cli, _container, console, sources_app
from collect.origins import OriginError
from core.errors import NotFoundError


@sources_app.command("origins")
def sources_origins(
    source_id: Annotated[str, typer.Argument(help="Source id (see `veil sources list`)")],
    allow: Annotated[list[str] | None, typer.Option(
        "--allow", help="An origin pages may send from, e.g. https://shop.example (repeat; replaces the list)")] = None,
    any_origin: Annotated[bool, typer.Option("--any", help="Allow every origin ('*'): only if you mean it")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Allow no browser origin")] = False,
    workspace: Workspace = None,
) -> None:
    """Show or set the browser origins (CORS) allowed to send events with a source's write key."""
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        if not allow and not any_origin and not clear:
            found = [s for s in c.sources.repo.list_sources(workspace=ws) if s.id == source_id]
            if not found:
                console.print(f"[red]no source {source_id} in workspace {ws}[/red]")
                raise typer.Exit(1)
            print(json.dumps({"source_id": source_id, "allowed_origins": list(found[0].allowed_origins)}))
            return
        origins = [] if clear else (["*"] if any_origin else list(allow or []))
        try:
            stored = c.sources.set_allowed_origins(source_id=source_id, origins=origins, workspace=ws)
        except OriginError as exc:
            console.print(f"[red]{exc.code}:[/red] {exc.message}")
            raise typer.Exit(2) from exc
        except NotFoundError as exc:
            console.print(f"[red]no source {source_id} in workspace {ws}[/red]")
            raise typer.Exit(1) from exc
        _audit_cli(c, ws, "policy_change", f"sources/{source_id}", "allowed_origins_set", origins=",".join(stored))
        print(json.dumps({"source_id": source_id, "allowed_origins": stored}))
    finally:
        c.close()

