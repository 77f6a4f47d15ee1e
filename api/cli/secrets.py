"""`veil secrets init|status`: the install's own secrets under var/secrets/ (values never printed)."""

from __future__ import annotations

import os
import stat

import typer
from rich.table import Table

from api.cli.common import console
from audit.checkpoint import load_or_create_key
from audit.settings import AuditSettings
from core.secrets import AUDIT_KEY_NAME, PRODUCT_SECRETS, SecretError, SecretStore

secrets_app = typer.Typer(help="The install's secrets: generate them once (prod) and see where each comes from.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach `veil secrets` to the root app (no customer data: local files only, values never printed)."""
    app.add_typer(secrets_app, name="secrets")


def _provided(setting: str) -> str | None:
    """The environment variable that provides a secret, if any."""
    for name in (setting, setting + "_FILE"):
        if os.environ.get(name, "").strip():
            return name
    return None


def _mode(path: os.PathLike[str]) -> str:
    return f"{stat.S_IMODE(os.stat(path).st_mode):04o}"


@secrets_app.command("init")
def secrets_init() -> None:
    """Generate every secret that is neither provided nor present (0600 files in a 0700 directory).

    Run it once when installing with VEIL_ENV=prod, which never generates secrets at start-up.
    Existing files are never overwritten.
    """
    store = SecretStore.from_env()
    table = Table("secret", "state", "where")
    try:
        for spec in PRODUCT_SECRETS:
            by = _provided(spec.setting)
            if by is not None:
                table.add_row(spec.name, "provided", by)
                continue
            path, created = store.ensure(spec)
            table.add_row(spec.name, "generated" if created else "kept", f"{path} ({_mode(path)})")
        audit = AuditSettings()
        key = audit.checkpoint_key_file
        if key is None:
            table.add_row(AUDIT_KEY_NAME, "disabled", "VEIL_AUDIT_CHECKPOINT_KEY_FILE is empty")
        else:
            existed = key.exists()
            load_or_create_key(audit.model_copy(update={"auto_create_key": True}))
            table.add_row(AUDIT_KEY_NAME, "kept" if existed else "generated", f"{key} ({_mode(key)})")
    except (SecretError, OSError) as exc:
        console.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
        raise typer.Exit(1) from exc
    console.print(table)


@secrets_app.command("status")
def secrets_status() -> None:
    """Where each secret comes from (environment, file setting, install file) or that it is missing."""
    store = SecretStore.from_env()
    table = Table("secret", "source", "where")
    for spec in PRODUCT_SECRETS:
        by = _provided(spec.setting)
        path = store.path(spec.name)
        if by is not None:
            table.add_row(spec.name, "setting", by)
        elif path.exists():
            table.add_row(spec.name, "install file", f"{path} ({_mode(path)})")
        else:
            table.add_row(spec.name, "missing", "generated on first start" if store.generate
                          else "run `veil secrets init` or provide it")
    key = AuditSettings().checkpoint_key_file
    table.add_row(AUDIT_KEY_NAME, "install file" if key and key.exists() else "missing",
                  f"{key} ({_mode(key)})" if key and key.exists() else str(key))
    console.print(table)
