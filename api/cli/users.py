"""`veil users disable|enable`: a disabled user's tokens stop working at once."""

from __future__ import annotations

from typing import Annotated

import typer

from access.auth import AuthError
from api.cli.common import Workspace, console, operator_session

Username = Annotated[str, typer.Argument(help="The user's name")]


def register(users_app: typer.Typer) -> None:
    """Attach these commands to `veil users`."""
    users_app.command("disable")(users_disable)
    users_app.command("enable")(users_enable)


def _set_disabled(username: str, workspace: str | None, *, disabled: bool) -> str:
    with operator_session(workspace) as (c, me):
        c.admin.operate(me, "users", reason="user_disabled" if disabled else "user_enabled",
                        extra={"username": username})
        try:
            return c.auth.set_user_disabled(username=username, disabled=disabled)
        except AuthError as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from exc


def users_disable(username: Username, workspace: Workspace = None) -> None:
    """Disable a staff user: login is refused and every token already issued stops working."""
    user_id = _set_disabled(username, workspace, disabled=True)
    console.print(f"user {username} ({user_id}) disabled: its tokens no longer work")


def users_enable(username: Username, workspace: Workspace = None) -> None:
    """Enable a disabled user again (tokens issued before the disable stay invalid)."""
    user_id = _set_disabled(username, workspace, disabled=False)
    console.print(f"user {username} ({user_id}) enabled: it can log in again")
