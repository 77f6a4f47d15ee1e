"""`veil activation`: journeys, templates, the send ledger, the worker and the local demo sinks."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from access.pipeline import ReadContext
from api.cli.common import AsJson, Workspace, console, operator_session
from api.container import Container
from consent.model import Purpose

activation_app = typer.Typer(help="Journeys, channels and the send ledger; the journey worker; demo sinks.",
                             no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `activation` group to the root app."""
    app.add_typer(activation_app, name="activation")


def _run(fn: Callable[[Container, ReadContext], Any], workspace: str | None) -> Any:
    """Run `fn(container, ctx)` as the CLI operator, for the marketing purpose."""
    with operator_session(workspace) as (c, me):
        return fn(c, c.guard.context(me, Purpose.marketing))


def _journey_dict(j: Any) -> dict[str, Any]:
    return {"id": j.id, "name": j.name, "template": j.template, "status": j.status,
            "latest_version": j.latest_version, "published_version": j.published_version,
            "created_at": j.created_at.isoformat() if j.created_at else None,
            "definition": j.definition.model_dump(exclude_none=True)}


@activation_app.command("templates")
def templates(workspace: Workspace = None, as_json: AsJson = False) -> None:
    """List the ready-made journey templates."""
    rows = _run(lambda c, ctx: c.activation.templates(ctx), workspace)
    if as_json:
        print(json.dumps({n: d.model_dump(exclude_none=True) for n, d in rows}, ensure_ascii=False, indent=2))
        return
    table = Table(title="journey templates")
    for col in ("template", "name", "entry", "channels"):
        table.add_column(col)
    for name, d in rows:
        channels = ", ".join(sorted({s.channel or "" for s in d.steps if s.type == "send"}))
        table.add_row(name, d.name, d.entry.kind + ":" + (d.entry.event or d.entry.schedule or "segment"), channels)
    console.print(table)


@activation_app.command("create")
def create(template: Annotated[str | None, typer.Option(help="Template to copy (see `templates`)")] = None,
           file: Annotated[Path | None, typer.Option(help="Journey definition JSON file")] = None,
           name: Annotated[str | None, typer.Option(help="Name (default: the template's)")] = None,
           workspace: Workspace = None) -> None:
    """Create a draft journey from a template or a definition file; prints its id."""
    if (template is None) == (file is None):
        console.print("[red]give exactly one of --template, --file[/red]")
        raise typer.Exit(2)
    definition = json.loads(file.read_text(encoding="utf-8")) if file else None
    j = _run(lambda c, ctx: c.activation.create(ctx, definition=definition, template_name=template, name=name),
             workspace)
    print(j.id)


@activation_app.command("publish")
def publish(journey_id: str, version: Annotated[int | None, typer.Option()] = None, workspace: Workspace = None) -> None:
    """Publish a version (default the latest): new entrants get it, people already in keep theirs."""
    j = _run(lambda c, ctx: c.activation.publish(ctx, journey_id=journey_id, version=version), workspace)
    console.print(f"{j.id} published v{j.published_version} ({j.status})")


@activation_app.command("pause")
def pause(journey_id: str, resume: Annotated[bool, typer.Option("--resume")] = False,
          workspace: Workspace = None) -> None:
    """Pause a journey (or --resume it)."""
    j = _run(lambda c, ctx: c.activation.set_paused(ctx, journey_id=journey_id, paused=not resume), workspace)
    console.print(f"{j.id} is {j.status}")


@activation_app.command("list")
def list_journeys(workspace: Workspace = None, as_json: AsJson = False) -> None:
    """Journeys of the workspace."""
    rows = _run(lambda c, ctx: c.activation.list(ctx), workspace)
    if as_json:
        print(json.dumps([_journey_dict(j) for j in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title="journeys")
    for col in ("id", "name", "status", "latest", "published"):
        table.add_column(col)
    for j in rows:
        table.add_row(j.id, j.name, j.status, str(j.latest_version), str(j.published_version or "-"))
    console.print(table)


@activation_app.command("sends")
def sends(journey: Annotated[str | None, typer.Option(help="Journey id")] = None,
          state: Annotated[str | None, typer.Option(help="planned|sending|accepted|failed|unknown|skipped|expired")]
          = None, limit: int = 100, workspace: Workspace = None, as_json: AsJson = False) -> None:
    """The send ledger (ids, states and reasons; no message content)."""
    rows = _run(lambda c, ctx: c.activation.sends(ctx, journey_id=journey, state=state, limit=limit), workspace)
    if as_json:
        print(json.dumps([{**r.__dict__, **{k: getattr(r, k).isoformat() for k in ("due_at", "expires_at",
                                                                                     "updated_at")
                                            if getattr(r, k) is not None}} for r in rows], ensure_ascii=False,
                         indent=2))
        return
    table = Table(title="send ledger")
    for col in ("key", "channel", "state", "reason", "attempts"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.key, r.channel, r.state, r.reason or "", str(r.attempts))
    console.print(table)


@activation_app.command("summary")
def summary(journey: Annotated[str | None, typer.Option(help="Journey id")] = None, workspace: Workspace = None,
            as_json: AsJson = False) -> None:
    """Send results: counts by journey, channel, state and reason."""
    rows = _run(lambda c, ctx: c.activation.summary(ctx, journey_id=journey), workspace)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="send results")
    for col in ("journey", "channel", "state", "reason", "count"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["journey"], r["channel"], r["state"], r["reason"] or "", str(r["n"]))
    console.print(table)


@activation_app.command("channels")
def channels(workspace: Workspace = None) -> None:
    """The configured channel senders."""
    print(json.dumps(_run(lambda c, ctx: c.activation.channels(ctx), workspace), indent=2))


@activation_app.command("dry-run")
def dry_run(journey_id: str, since: Annotated[datetime, typer.Option(help="Window start (ISO 8601, UTC)")],
            until: Annotated[datetime | None, typer.Option(help="Window end (default now)")] = None,
            workspace: Workspace = None) -> None:
    """Replay stored history through a journey (aggregates only; nothing is sent)."""
    end = until or datetime.now(UTC)
    r = _run(lambda c, ctx: c.activation.dry_run(ctx, journey_id=journey_id, since=_aware(since),
                                                 until=_aware(end)), workspace)
    print(json.dumps(r.__dict__, ensure_ascii=False, indent=2))


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@activation_app.command("audience")
def audience(segment: Annotated[str, typer.Option(help="Saved segment id")],
             platform: Annotated[str, typer.Option(help="meta or google")],
             out: Annotated[Path, typer.Option(help="Where to write the export (JSON)")],
             previous: Annotated[Path | None, typer.Option(help="The previous export, for removals")] = None,
             workspace: Workspace = None) -> None:
    """Export a hashed ad audience (SHA-256 of normalised e-mails/phones) of people who allow ads."""
    prev = json.loads(previous.read_text(encoding="utf-8")) if previous else None
    exp = _run(lambda c, ctx: c.activation.export_audience(ctx, segment_id=segment, platform=platform,
                                                           previous=prev), workspace)
    out.write_text(json.dumps({"platform": exp.platform, "segment_id": exp.segment_id, "members": exp.members,
                               "removed": exp.removed, "skipped": exp.skipped, "payload": exp.payload()},
                              indent=2) + "\n", encoding="utf-8")
    console.print(f"{len(exp.members)} members, {len(exp.removed)} to remove, skipped {exp.skipped} -> {out}")


@activation_app.command("worker")
def worker(workspace: Workspace = None, once: Annotated[bool, typer.Option(help="One round, then exit")] = False
           ) -> None:
    """Run the journey worker (engine + one lane per channel) until SIGTERM/SIGINT."""
    with operator_session(workspace) as (c, me):
        # The operator starts it; the worker then acts as its own `activation` principal.
        c.admin.operate(me, "journeys", reason="worker_started")
        ws = me.workspace
        w = c.activation.worker(ws)
        if once:
            report = w.tick()
            print(json.dumps({"entered": report.engine.entered, "planned": report.engine.planned,
                              "recovered": report.recovered, "outcomes": report.outcomes()}))
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        w.start()
        console.print(f"journey worker running for {ws} (channels: {', '.join(c.activation.registry.names())})")
        stop.wait()
        w.stop()


@activation_app.command("sinks")
def sinks(smtp_port: int = 8025, http_port: int = 8113,
          line_token: Annotated[str, typer.Option(envvar="VEIL_ACTIVATION_LINE_CHANNEL_TOKEN")] = "",
          sms_user: Annotated[str, typer.Option(envvar="VEIL_ACTIVATION_SMS_USERNAME")] = "",
          sms_password: Annotated[str, typer.Option(envvar="VEIL_ACTIVATION_SMS_PASSWORD")] = "",
          webhook_secret: Annotated[str, typer.Option(envvar="VEIL_ACTIVATION_DEMO_WEBHOOK_SECRET")] = "",
          quiet: Annotated[bool, typer.Option(help="Do not print arrivals")] = False) -> None:
    """Local provider sinks for the demo: SMTP, LINE push, SMS form API, webhooks; prints arrivals."""
    from activation.sinks import HttpSinks, SinkStore, SmtpSink

    store = SinkStore()
    if not quiet:
        store.on_add = lambda item: console.print(
        f"[green]{datetime.now(UTC):%H:%M:%S} {item['kind']}[/green] "
        + json.dumps({k: v for k, v in item.items() if k in ("rcpt_tos", "subject", "to", "destination")},
                     ensure_ascii=False))
    smtp = SmtpSink(store, port=smtp_port).start()
    http = HttpSinks(store, port=http_port, line_token=line_token, sms_login=(sms_user, sms_password),
                     webhook_secrets={"crm": webhook_secret} if webhook_secret else {}).start()
    console.print(f"sinks: SMTP 127.0.0.1:{smtp_port}, HTTP {http.url} (GET /messages lists what arrived)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    smtp.stop()
    http.stop()
