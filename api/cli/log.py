"""`veil log ...`: the durable event log: status, drain, wait (barrier), dead letters, replay."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import operator_session
from api.container import Container
from collect.log.base import StoreUnavailable
from collect.log.wiring import DurableLog, KafkaDurableLog

log_app = typer.Typer(help="The durable event log between the collection API and the graph.",
                      no_args_is_help=True)
console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Attach the `log` group to the root app."""
    app.add_typer(log_app, name="log")


def _durable(c: Container) -> DurableLog | KafkaDurableLog:
    if c.durable is None:
        console.print("[red]VEIL_LOG_BACKEND=direct: there is no durable log[/red]")
        raise typer.Exit(2)
    return c.durable


@log_app.command("status")
def status() -> None:
    """Pending events and bytes, oldest age, totals and dead letters (JSON on stdout)."""
    with operator_session(None) as (c, me):
        c.admin.operate(me, "sources", action="read", reason="log_status")
        d = _durable(c)
        where = d.settings.kafka_bootstrap if d.log.name == "kafka" else str(d.settings.path)
        out = {"backend": d.log.name, "at": where, **dataclasses.asdict(d.log.stats()),
               "high_water_events": d.settings.high_water_events}
    typer.echo(json.dumps(out, indent=2))


@log_app.command("drain")
def drain(timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
          follow: Annotated[bool, typer.Option("--follow", help="Keep draining until stopped (a writer process "
                                                               "beside APIs run with VEIL_LOG_DRAIN_IN_API=false)")]
          = False) -> None:
    """Drain the log into the graph now (when no API process is draining it)."""
    with operator_session(None) as (c, me):
        c.admin.operate(me, "sources", action="write", reason="log_drain")
        d = _durable(c)
        if follow:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            d.start()
            console.print(f"draining {d.log.name} log until stopped (Ctrl-C or SIGTERM)")
            try:
                stop.wait(timeout)
            except KeyboardInterrupt:
                pass
            return
        try:
            n = d.writer.drain(timeout=timeout)
        except RuntimeError as exc:
            console.print(f"[red]{exc}[/red]; use `veil log wait` instead")
            raise typer.Exit(1) from exc
        except StoreUnavailable as exc:
            console.print(f"[red]the graph store is unavailable; the events stay in the log:[/red] {exc}")
            raise typer.Exit(3) from exc
        if isinstance(d, DurableLog) and d.feed is not None:
            while d.feed.run_once():
                pass
        console.print(f"drained {n} events; dead letters now {d.log.stats().dead_letters}")


@log_app.command("wait")
def wait(timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 120.0) -> None:
    """Drain barrier: wait until every event acknowledged so far is in the graph (exit 1 on timeout)."""
    with operator_session(None) as (c, me):
        c.admin.operate(me, "sources", action="read", reason="log_wait")
        d = _durable(c)
        ok = d.barrier(timeout)
        stats = d.log.stats()
    if not ok:
        console.print(f"[red]timed out:[/red] {stats.pending_events} events still waiting "
                      f"(oldest {stats.oldest_age_seconds:.1f} s); is the API (the drainer) running?")
        raise typer.Exit(1)
    console.print("drained")


@log_app.command("dead-letters")
def dead_letters(
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="Only this workspace")] = None,
    limit: Annotated[int, typer.Option(help="Newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout")] = False,
) -> None:
    """List dead letters: the events the writers could not store, with the reason."""
    with operator_session(None) as (c, me):
        c.admin.operate(me, "sources", action="read", reason="dead_letters_listed")
        rows = _durable(c).log.dead_letters(limit=limit, workspace=workspace)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(dataclasses.asdict(r), ensure_ascii=False))
        return
    table = Table("id", "at", "workspace", "messageId", "code", "reason", "replayable")
    for r in rows:
        table.add_row(str(r.id), datetime.fromtimestamp(r.at, UTC).isoformat(timespec="seconds"), r.workspace,
                      r.message_id or "", r.code, r.reason[:80], "yes" if r.replayable else "no (no body kept)")
    Console().print(table)


@log_app.command("replay")
def replay(ids: Annotated[list[int] | None, typer.Argument(help="Dead-letter ids; all replayable when omitted")] = None,
           ) -> None:
    """Move dead letters back into the log (after fixing the cause); the drainer writes them again."""
    with operator_session(None) as (c, me):
        c.admin.operate(me, "sources", action="write", reason="dead_letters_replayed")
        n = _durable(c).log.replay(ids or None)
    console.print(f"replayed {n} dead letters into the log")
