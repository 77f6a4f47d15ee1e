"""`veil sources`, `veil import`, `veil export`, `veil demo`: data in and out, as an operator."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from access.export import ProfileExporter
from access.pipeline import MaskedProfile
from access.principal import Principal
from api.cli.common import (
    PurposeOpt,
    Workspace,
    console,
    fail,
    operator_session,
    progress,
    read_context,
)
from api.container import Container

sources_app = typer.Typer(help="Collection sources and their write keys.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk import of CRM members and historical events.", no_args_is_help=True)
export_app = typer.Typer(help="Export profiles (consent-gated, masked, audited per person).",
                         no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach these command groups to the root app."""
    app.add_typer(sources_app, name="sources")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.add_typer(demo_app, name="demo")


@sources_app.command("create")
def sources_create(name: Annotated[str, typer.Option(help="Source name, e.g. web, app, pos")],
                   workspace: Workspace = None,
                   write_key: Annotated[str | None, typer.Option(help="Use this key instead of a random one")] = None,
                   as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create a source and print its write key (shown once; the creation is audited)."""
    with operator_session(workspace) as (c, me):
        new = c.admin.create_source(me, sources=c.sources, name=name, write_key=write_key)
    if as_json:
        print(json.dumps({"source_id": new.source.id, "workspace": new.source.workspace,
                          "name": new.source.name, "write_key": new.write_key}))
    else:
        console.print(f"source {new.source.id} ({new.source.workspace}/{new.source.name})")
        print(new.write_key)


@sources_app.command("list")
def sources_list(workspace: Workspace = None) -> None:
    """List sources (write keys are never shown again, only their first characters)."""
    with operator_session(workspace) as (c, me):
        c.admin.operate(me, "sources", action="read", reason="listed")
        rows = c.sources.repo.list_sources(workspace=me.workspace)
    table = Table("id", "workspace", "name", "kind", "key", "disabled")
    for s in rows:
        table.add_row(s.id, s.workspace, s.name, s.kind, s.key_prefix + "…", str(s.disabled))
    Console().print(table)


def _source_id(c: Container, me: Principal, name: str) -> str:
    for s in c.sources.repo.list_sources(workspace=me.workspace):
        if s.name == name:
            return s.id
    return c.admin.create_source(me, sources=c.sources, name=name, kind="import").source.id


def _run_import(c: Container, me: Principal, events: Any, total: int, source_name: str,
                report_path: Path | None) -> None:
    from collect.importer import import_events

    c.admin.operate(me, "sources", reason="import", extra={"source": source_name})
    src = _source_id(c, me, source_name)
    with progress() as bar:
        task = bar.add_task(f"importing into {me.workspace}", total=total)
        report = import_events(c.ingest, events, workspace=me.workspace, source=src,
                               progress=lambda n: bar.advance(task, n))
    out = report.to_dict()
    console.print(f"rows {report.rows}, stored {report.stored}, duplicates {report.duplicates}, "
                  f"failed {len(report.errors)}")
    for err in report.errors[:10]:
        console.print(f"  line {err['line']}: {err['code']}: {err['message']}")
    if report_path:
        report_path.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"error report written to {report_path}")
    if report.errors and report.stored == 0:
        raise typer.Exit(1)


@import_app.command("members")
def import_members(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header row")],
    workspace: Workspace = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="trait=Column, repeatable")] = None,
    source: Annotated[str, typer.Option(help="Source name recorded on the data")] = "crm-import",
    report: Annotated[Path | None, typer.Option(help="Write the row-level report (JSON) here")] = None,
) -> None:
    """Import CRM members (member_id, name, email, phone, birthday, member_tier...) from CSV."""
    from collect.importer import count_lines, member_rows_to_events, parse_mapping, read_csv

    try:
        mapping = parse_mapping(map_ or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with operator_session(workspace) as (c, me):
        events = member_rows_to_events(read_csv(path), mapping=mapping, file_tag=path.stem)
        _run_import(c, me, events, max(count_lines(path) - 1, 0), source, report)


@import_app.command("events")
def import_events_cmd(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, one Segment-spec event per line")],
    workspace: Workspace = None,
    source: Annotated[str, typer.Option(help="Source name recorded on the data")] = "history-import",
    report: Annotated[Path | None, typer.Option(help="Write the row-level report (JSON) here")] = None,
) -> None:
    """Import historical events and orders (JSONL of Segment-spec events)."""
    from collect.importer import count_lines, read_jsonl_events

    with operator_session(workspace) as (c, me):
        _run_import(c, me, read_jsonl_events(path), count_lines(path), source, report)


def _row(m: MaskedProfile) -> dict[str, Any]:
    return {"id": m.id, "first_seen": m.first_seen.isoformat() if m.first_seen else None,
            "last_seen": m.last_seen.isoformat() if m.last_seen else None,
            "interactions": m.interaction_count, "traits": {t.name: t.value for t in m.traits},
            "identifiers": [{"type": i.name, "value": i.value} for i in (m.identifiers or ())],
            "withheld": list(m.withheld), "purpose": m.purpose, "lawful_basis": m.lawful_basis}


@export_app.command("profiles")
def export_profiles(
    purpose: PurposeOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file ('-' for stdout)")] = Path("-"),
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    workspace: Workspace = None,
) -> None:
    """Export active profiles for a purpose: masked for your role, restricted and objecting people
    left out, one audit record per exported person."""
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("format must be jsonl or csv", param_hint="--format")
    with operator_session(workspace) as (c, me):
        ctx = read_context(c, me, purpose)
        total = c.pipeline.counts(workspace=me.workspace).get("active", 0)
        fh: IO[str] = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8", newline="")
        writer: csv.DictWriter[str] | None = None

        def write(m: MaskedProfile) -> None:
            nonlocal writer
            row = _row(m)
            if fmt == "jsonl":
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                return
            flat = {k: row[k] for k in ("id", "first_seen", "last_seen", "interactions", "purpose")}
            flat["traits"] = json.dumps(row["traits"], ensure_ascii=False, default=str)
            flat["identifiers"] = ";".join(f"{i['type']}:{i['value']}" for i in row["identifiers"])
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(flat))
                writer.writeheader()
            writer.writerow(flat)

        try:
            with progress() as bar:
                task = bar.add_task(f"exporting {me.workspace} for {purpose}", total=total)
                summary = ProfileExporter(pipeline=c.pipeline).export(
                    ctx, write=write, progress=lambda n: bar.advance(task, n))
        finally:
            if fh is not sys.stdout:
                fh.close()
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(summary.reasons.items()))
    console.print(f"exported {summary.exported} profiles; left out {summary.restricted} restricted and "
                  f"{summary.refused} without consent/lawful basis for {purpose}"
                  + (f" ({reasons})" if reasons else "") + "; every exported person is in the audit trail")


@demo_app.command("load")
def demo_load(
    customers: Annotated[int, typer.Option(help="Number of demo customers")] = 10_000,
    seed: int = 7,
    workspace: Workspace = None,
    credentials: Annotated[Path | None, typer.Option(help="Write demo credentials JSON here")] = None,
    api_url: Annotated[str, typer.Option(help="API URL printed for users")] = "http://127.0.0.1:8000",
) -> None:
    """Generate the demo retail brand and load it through the ingest service."""
    from collect.demo import batches, generate_events

    with operator_session(workspace) as (c, me):
        ws = me.workspace
        c.migrate()
        existing = {s.name: s for s in c.sources.repo.list_sources(workspace=ws)}
        creds_file = credentials or Path(c.app.var_dir) / "demo-credentials.json"
        if "demo-web" in existing and creds_file.exists():
            console.print(f"demo data already loaded in workspace {ws!r}; credentials in {creds_file}")
            return
        c.admin.operate(me, "sources", reason="demo_load", extra={"customers": customers})
        new = c.admin.create_source(me, sources=c.sources, name="demo-web")
        events = list(generate_events(customers=customers, seed=seed))
        started = time.perf_counter()
        stored = 0
        with progress() as bar:
            task = bar.add_task(f"loading demo data into {ws}", total=len(events))
            for batch in batches(events, size=500):
                r = c.ingest.ingest(batch, workspace=ws, source=new.source.id)
                stored += r.stored
                bar.advance(task, len(batch))
        elapsed = time.perf_counter() - started
        counts = c.pipeline.counts(workspace=ws)
        keys = {role: c.admin.create_api_key(me, role, f"demo-{role}")[1]
                for role in ("admin", "support_agent", "analyst", "compliance_officer")}
        creds = {"api_url": api_url, "workspace": ws, "source": new.source.id, "write_key": new.write_key,
                 "auth": "HTTP Basic with the write key as user name and an empty password",
                 "graphql_url": api_url + "/graphql",
                 "graphql_keys": keys,
                 "graphql_auth": "Authorization: Bearer <key>, plus X-Veil-Purpose: support|analytics|marketing|..."}
        creds_file.parent.mkdir(parents=True, exist_ok=True)
        creds_file.write_text(json.dumps(creds, indent=2), encoding="utf-8")
        creds_file.chmod(0o600)
        console.print(f"loaded {stored} events in {elapsed:.1f} s ({stored / elapsed:.0f} events/s): "
                      f"{counts['active']} profiles, {counts['merged']} merged away")
        console.print(f"credentials written to {creds_file}")
    if stored == 0 and customers > 0:
        raise fail("[red]no demo event was stored[/red]", 1)
