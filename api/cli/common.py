"""What every `veil` command shares: the container, the operator principal, options, errors.

The CLI is one more transport: it acts as an *operator* principal (the OS user, or
VEIL_CLI_OPERATOR) whose roles come from the policy store, declares a purpose where personal
data is read, and reaches customer data only through the guarded services.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from access.auth import AuthError
from access.authz import Forbidden
from access.guard import ReadContext
from access.pipeline import ConsentDenied, NotFound
from access.principal import Principal
from api.container import ConfigError, Container, build_container
from audit.service import AuditUnavailable
from consent.model import Channel, Purpose
from core.errors import VeilError

console = Console(stderr=True)
OPERATOR_ENV = "VEIL_CLI_OPERATOR"

Workspace = Annotated[str | None, typer.Option("--workspace", "--tenant", "-w",
                                               help="Workspace (tenant); default VEIL_DEFAULT_WORKSPACE")]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Why you read this personal data: "
                                         + ", ".join(p.value for p in Purpose) + " (consent-gated, audited)")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON")]


def operator_name() -> str:
    """Who is at the command line: VEIL_CLI_OPERATOR, else the OS user."""
    return os.environ.get(OPERATOR_ENV) or getpass.getuser()


def open_container() -> Container:
    """The wiring; configuration errors end the command with exit code 2."""
    from api.logs import configure_logging

    try:
        c = build_container()
        # Logs (audit lines included) go to stderr so stdout stays machine-readable (keys, exports).
        configure_logging(c.app.log_level)
        return c
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def fail(message: str, code: int) -> typer.Exit:
    """Print an error on stderr and return the Exit to raise."""
    console.print(message)
    return typer.Exit(code)


@contextmanager
def operator_session(workspace: str | None) -> Iterator[tuple[Container, Principal]]:
    """The container and the operator principal for one command; domain errors become clear
    messages and exit codes (1 not found/invalid, 3 audit down, 4 forbidden, 5 consent refused)."""
    c = open_container()
    try:
        ws = workspace or c.app.default_workspace
        try:
            principal = c.auth.operator(name=operator_name(), workspace=ws)
            yield c, principal
        except AuthError as exc:
            raise fail(f"[red]{exc.code}:[/red] {exc.message}", 4) from exc
        except Forbidden as exc:
            raise fail(f"[red]forbidden:[/red] operator {operator_name()!r} may not {exc.action} {exc.resource} "
                       f"in {ws!r} (the attempt was audited)", 4) from exc
        except ConsentDenied as exc:
            raise fail(f"[red]consent_denied:[/red] {exc.decision.reason} (the attempt was audited)", 5) from exc
        except NotFound as exc:
            raise fail(f"[red]not_found:[/red] {exc.what} not found in workspace {ws!r}", 1) from exc
        except AuditUnavailable as exc:
            raise fail("[red]the audit trail is unavailable; nothing was done[/red]", 3) from exc
        except VeilError as exc:
            raise fail(f"[red]{exc.code}:[/red] {exc.message}", 1) from exc
    finally:
        c.close()


def read_context(c: Container, principal: Principal, purpose: str, channel: str = "any") -> ReadContext:
    """The operator's read context for a declared purpose."""
    try:
        return c.guard.context(principal, Purpose(purpose.strip()), Channel(channel))
    except ValueError as exc:
        raise typer.BadParameter(f"unknown purpose {purpose!r}; one of "
                                 f"{', '.join(p.value for p in Purpose)}", param_hint="--purpose") from exc


def progress() -> Progress:
    """A progress bar on stderr for long work."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console)
