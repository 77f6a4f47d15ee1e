"""CLI commands for key management and erasure: `veil keys new-kek|rotate-kek`, `veil profiles erase`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli import _container, _progress, console, keys_app
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
