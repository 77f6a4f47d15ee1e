"""`veil keys create`, `veil users create|disable|enable`, `veil operators grant|revoke|list`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from access.principal import ROLES
from api.cli.common import Workspace, console, operator_session

keys_app = typer.Typer(help="API keys for apps (GraphQL).", no_args_is_help=True)
users_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)
operators_app = typer.Typer(help="Who may use this CLI, with which role (CLI operators).", no_args_is_help=True)
RoleOpt = Annotated[str, typer.Option(help=", ".join(ROLES))]


def register(app: typer.Typer) -> None:
    """Attach these command groups to the root app."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(users_app, name="users")
    app.add_typer(operators_app, name="operators")


@keys_app.command("create")
def keys_create(role: RoleOpt, workspace: Workspace = None,
                name: Annotated[str, typer.Option(help="What the key is for")] = "cli",
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create an API key (Authorization: Bearer <key> on /graphql); printed once."""
    with operator_session(workspace) as (c, me):
        try:
            rec, key = c.admin.create_api_key(me, role, name)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--role") from exc
    if as_json:
        print(json.dumps({"id": rec.id, "workspace": rec.workspace, "role": rec.role, "key": key}))
    else:
        console.print(f"API key {rec.id} ({rec.workspace}, role {rec.role})")
        print(key)


@users_app.command("create")
def users_create(username: str, role: RoleOpt, workspace: Workspace = None,
                 password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                                       help="At least 12 characters")] = "") -> None:
    """Create a staff user with a role in a workspace (log in with the GraphQL `login` mutation)."""
    with operator_session(workspace) as (c, me):
        try:
            user_id = c.admin.create_user(me, username, password)
            c.admin.assign_role(me, user_id, role, True)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    console.print(f"user {username} ({user_id}) has role {role} in {me.workspace}")


@operators_app.command("grant")
def operators_grant(name: Annotated[str, typer.Argument(help="OS user name (or VEIL_CLI_OPERATOR value)")],
                    role: RoleOpt,
                    workspace: Annotated[str | None, typer.Option("--workspace", "-w",
                                                                  help="Workspace, or '*' for all")] = None) -> None:
    """Give a CLI operator a role (audited)."""
    with operator_session(None if workspace in (None, "*") else workspace) as (c, me):
        c.admin.operate(me, "users", reason="operator_granted", extra={"operator": name, "role": role})
        try:
            c.auth.grant_operator(name=name, role=role, workspace=workspace or me.workspace, actor=me.id)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--role") from exc
    console.print(f"operator {name} has role {role} in {workspace or me.workspace}")


@operators_app.command("revoke")
def operators_revoke(name: str, role: RoleOpt,
                     workspace: Annotated[str | None, typer.Option("--workspace", "-w")] = None) -> None:
    """Take a role away from a CLI operator (audited)."""
    with operator_session(None if workspace in (None, "*") else workspace) as (c, me):
        c.admin.operate(me, "users", reason="operator_revoked", extra={"operator": name, "role": role})
        done = c.auth.revoke_operator(name=name, role=role, workspace=workspace or me.workspace, actor=me.id)
    console.print(f"operator {name}: role {role} {'revoked' if done else 'was not granted'}")


@operators_app.command("list")
def operators_list(workspace: Workspace = None) -> None:
    """CLI operators and their roles."""
    with operator_session(workspace) as (c, me):
        c.admin.operate(me, "users", action="read", reason="operators_listed")
        rows = c.auth.operators()
    t = Table("operator", "role", "workspace")
    for name, role, ws in rows:
        t.add_row(name, role, ws)
    Console().print(t)
