"""Key management and erasure: `veil keys new-kek|rotate-kek|encrypt-existing`, `veil profiles erase`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import Workspace, console, operator_session, progress
from consent.model import Purpose
from privacy.keys import KeyMaterialError


def register(app: typer.Typer, profiles_app: typer.Typer, keys_app: typer.Typer) -> None:
    """Attach these commands to the `profiles` and `keys` groups."""
    keys_app.command("new-kek")(keys_new_kek)
    keys_app.command("rotate-kek")(keys_rotate_kek)
    keys_app.command("encrypt-existing")(keys_encrypt_existing)
    profiles_app.command("erase")(profiles_erase)


def keys_new_kek(out: Annotated[Path | None, typer.Option("--out", "-o", help="Write it to this file (0600)")] = None
                 ) -> None:
    """Print (or write) a fresh random 256-bit key, base64: for VEIL_CRYPTO_KEK(_FILE) or the blind-index key."""
    from privacy.keys import new_key_text

    text = new_key_text()
    if out is None:
        print(text)
        return
    out.touch(mode=0o600, exist_ok=False)
    out.write_text(text + "\n", encoding="utf-8")
    console.print(f"key written to {out}")


def keys_rotate_kek(
    new_kek_file: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="File with the new base64 KEK")],
    old_kek_file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                      help="The KEK the keys are wrapped by now "
                                                           "(default: the configured one)")] = None,
    batch: Annotated[int, typer.Option(help="Keys per store transaction")] = 1000,
) -> None:
    """Rewrap every data key under a new key-encryption key (resumable), then point
    VEIL_CRYPTO_KEK_FILE at the new file and restart the API."""
    with operator_session(None) as (c, me):
        total = c.keys.key_count(me)
        with progress() as bar:
            task = bar.add_task("rewrapping data keys", total=total)
            try:
                report = c.keys.rotate_kek(me, new_kek_file=new_kek_file, old_kek_file=old_kek_file, batch=batch,
                                           progress=lambda n: bar.advance(task, n))
            except KeyMaterialError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from exc
    console.print(f"{report.rewrapped} data keys rewrapped under {report.new_kek_id} "
                  f"({report.already_new} already were); now set VEIL_CRYPTO_KEK_FILE={new_kek_file} "
                  "and restart the API")


def profiles_erase(
    profile_id: Annotated[str, typer.Argument(help="Any profile id of the person (merged profiles included)")],
    reason: Annotated[str, typer.Option(help="Case reference for the audit trail, e.g. DSR-2026-0042 "
                                             "(no personal data)")],
    workspace: Workspace = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Erase a person by crypto-shredding: their data keys are deleted (backups become unreadable too),
    their data is purged and their identifiers suppressed. Cannot be undone."""
    if not yes:
        typer.confirm(f"Erase profile {profile_id} and everything merged into it? This cannot be undone",
                      abort=True)
    with operator_session(workspace) as (c, me):
        ctx = c.guard.context(me, Purpose.legal_obligation)
        try:
            report = c.admin.erase_profile(ctx, profile_id, reason)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    print(json.dumps(report.as_dict()))
    console.print(f"erased {report.profiles_erased} profile(s) of {report.profile_id}: "
                  f"{report.keys_shredded} data keys shredded, {report.identifiers_suppressed} identifiers suppressed")


def keys_encrypt_existing(workspace: Workspace = None,
                          page_size: Annotated[int, typer.Option(help="Nodes per transaction")] = 500) -> None:
    """Encrypt a workspace stored before field encryption: blind-index PII identifier keys and seal
    PII values (safe to run again)."""
    with operator_session(workspace) as (c, me), progress() as bar:
        tasks: dict[str, int] = {}

        def tick(what: str, n: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(f"{what} in {me.workspace}", total=None)
            bar.advance(tasks[what], n)

        try:
            report = c.keys.encrypt_existing(me, page_size=page_size, progress=tick)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    print(json.dumps(asdict(report)))
