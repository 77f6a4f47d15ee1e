"""CLI commands for key management and erasure: `veil keys new-kek|rotate-kek`, `veil profiles erase`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli import Workspace, _container, _progress, console, keys_app, profiles_app
from privacy.keys import KeyMaterialError, LocalKeyProvider, read_key, rotate_kek


@keys_app.command("new-kek")
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


@keys_app.command("rotate-kek")
def keys_rotate_kek(
    new_kek_file: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="File with the new base64 KEK")],
    old_kek_file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                      help="The KEK the keys are wrapped by now "
                                                           "(default: the configured one)")] = None,
    batch: Annotated[int, typer.Option(help="Keys per store transaction")] = 1000,
) -> None:
    """Rewrap every data key under a new key-encryption key (resumable), then point
    VEIL_CRYPTO_KEK_FILE at the new file and restart the API."""
    c = _container()
    try:
        try:
            old = (LocalKeyProvider(read_key(None, old_kek_file, default="", what="old KEK")[0])
                   if old_kek_file else c.vault.provider)
            new = LocalKeyProvider(read_key(None, new_kek_file, default="", what="new KEK")[0])
        except KeyMaterialError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        store = c.vault.store
        total = store.count()
        with _progress() as progress:
            task = progress.add_task("rewrapping data keys", total=total)
            try:
                report = rotate_kek(store=store, old=old, new=new, batch=batch,
                                    progress=lambda n: progress.advance(task, n))
            except KeyMaterialError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from exc
        from api.cli import _audit_cli

        _audit_cli(c, c.app.default_workspace, "key_change", "kek", "rotated", new_kek_id=report.new_kek_id,
                   rewrapped=str(report.rewrapped))
    finally:
        c.close()
    console.print(f"{report.rewrapped} data keys rewrapped under {report.new_kek_id} "
                  f"({report.already_new} already were); now set VEIL_CRYPTO_KEK_FILE={new_kek_file} "
                  "and restart the API")


@profiles_app.command("erase")
def profiles_erase(
    profile_id: Annotated[str, typer.Argument(help="Any profile id of the person (merged profiles included)")],
    reason: Annotated[str, typer.Option(help="Case reference for the audit trail, e.g. DSR-2026-0042 "
                                             "(no personal data)")],
    workspace: Workspace = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Erase a person by crypto-shredding: their data keys are deleted (backups become unreadable too),
    their data is purged and their identifiers suppressed. Cannot be undone."""
    import json

    from audit.service import AuditUnavailable
    from privacy.erasure import ProfileNotFound

    if not yes:
        typer.confirm(f"Erase profile {profile_id} and everything merged into it? This cannot be undone",
                      abort=True)
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        try:
            report = c.erase(workspace=ws, profile_id=profile_id, actor="system:cli", actor_kind="system",
                             reason=reason)
        except ProfileNotFound:
            console.print(f"[red]no profile {profile_id} in workspace {ws}[/red]")
            raise typer.Exit(1) from None
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        except AuditUnavailable:
            console.print("[red]the audit trail is unavailable; nothing was erased[/red]")
            raise typer.Exit(3) from None
    finally:
        c.close()
    print(json.dumps(report.as_dict()))
    console.print(f"erased {report.profiles_erased} profile(s) of {report.profile_id}: "
                  f"{report.keys_shredded} data keys shredded, {report.identifiers_suppressed} identifiers suppressed")


@keys_app.command("encrypt-existing")
def keys_encrypt_existing(workspace: Workspace = None,
                          page_size: Annotated[int, typer.Option(help="Nodes per transaction")] = 500) -> None:
    """Encrypt a workspace stored before field encryption: blind-index PII identifier keys and seal
    PII values (safe to run again)."""
    import json

    from graph.upgrade import UpgradeRepository
    from privacy.upgrade import encrypt_existing

    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        repo = UpgradeRepository(c.driver, database=c.neo4j.database)
        with _progress() as progress:
            tasks: dict[str, int] = {}

            def tick(what: str, n: int) -> None:
                if what not in tasks:
                    tasks[what] = progress.add_task(f"{what} in {ws}", total=None)
                progress.advance(tasks[what], n)

            try:
                report = encrypt_existing(vault=c.vault, repo=repo, workspace=ws, page_size=page_size, progress=tick)
            except ValueError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from exc
        from api.cli import _audit_cli

        _audit_cli(c, ws, "key_change", "encryption", "encrypted_existing",
                   profiles=str(report.profiles_sealed), identifiers=str(report.identifiers_rekeyed))
    finally:
        c.close()
    from dataclasses import asdict

    print(json.dumps(asdict(report)))
