"""`veil profiles show|unmerge` (and `erase`, in api/cli/privacy.py): one person, through the guard."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import PurposeOpt, Workspace, console, operator_session, read_context

profiles_app = typer.Typer(help="Inspect profiles and the merge ledger.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `profiles` group to the root app."""
    app.add_typer(profiles_app, name="profiles")


@profiles_app.command("show")
def profiles_show(
    purpose: PurposeOpt,
    profile_id: Annotated[str | None, typer.Argument(help="Profile id")] = None,
    identifier: Annotated[str | None, typer.Option(help="type:value, e.g. email:amy@example.com")] = None,
    workspace: Workspace = None,
) -> None:
    """Show a profile as your role may see it for a purpose: masked traits and identifiers, the
    merge ledger. Consent-gated and audited like any GraphQL read."""
    if not profile_id and not identifier:
        raise typer.BadParameter("give a profile id or --identifier type:value")
    with operator_session(workspace) as (c, me):
        ctx = read_context(c, me, purpose)
        ident = None
        if identifier:
            kind, _, value = identifier.partition(":")
            if not kind or not value:
                raise typer.BadParameter("--identifier must be type:value, e.g. email:amy@example.com")
            ident = c.pipeline.normalize_identifier(kind.strip(), value, default_region=c.collect.default_region)
        p = c.pipeline.read_profile(ctx, profile_id=None if ident else profile_id, identifier=ident)
        merges = c.pipeline.merge_history(ctx, p.id) if c.guard.allowed(ctx, "profile.merges", "read") else None
    out = Console()
    out.print(f"[bold]profile {p.id}[/bold]  purpose {p.purpose}, lawful basis {p.lawful_basis or '-'}")
    out.print(f"first seen {p.first_seen}, last seen {p.last_seen}, "
              f"{p.interaction_count if p.interaction_count is not None else '(withheld)'} interactions")
    t = Table("trait", "value", "masking")
    for tr in p.traits:
        t.add_row(tr.name, str(tr.value), tr.strategy)
    out.print(t)
    if p.identifiers is not None:
        t = Table("identifier type", "value", "masking")
        for i in p.identifiers:
            t.add_row(i.name, str(i.value), i.strategy)
        out.print(t)
    if merges is not None:
        t = Table("merge", "loser → winner", "rule", "at", "undone")
        for m in merges:
            t.add_row(m.id, f"{m.loser} → {m.winner}", m.rule, str(m.at), str(m.undone_at or ""))
        out.print(t)
    if p.withheld:
        out.print("withheld for your role: " + ", ".join(p.withheld))


@profiles_app.command("unmerge")
def profiles_unmerge(merge_id: str, workspace: Workspace = None) -> None:
    """Undo a merge from the ledger: the loser gets its identifiers and interactions back (audited)."""
    with operator_session(workspace) as (c, me):
        moved = c.admin.unmerge(me, merge_id=merge_id)
    console.print(f"merge {merge_id} undone; {moved} interactions moved back")
