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
from collect.origins import OriginError, normalize_origin
from core.errors import NotFoundError

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


@sources_app.command("origins")
def sources_origins(
    source_id: Annotated[str, typer.Argument(help="Source id (see `veil sources list`)")],
    allow: Annotated[list[str] | None, typer.Option(
        "--allow", help="An origin pages may send from, e.g. https://shop.example (repeat; replaces the list)")] = None,
    any_origin: Annotated[bool, typer.Option("--any", help="Allow every origin ('*'): only if you mean it")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Allow no browser origin")] = False,
    workspace: Workspace = None,
) -> None:
    """Show or set the browser origins (CORS) allowed to send events with a source's write key."""
    with operator_session(workspace) as (c, me):
        if not allow and not any_origin and not clear:
            c.admin.operate(me, "sources", action="read", reason="origins_listed")
            found = [s for s in c.sources.repo.list_sources(workspace=me.workspace) if s.id == source_id]
            if not found:
                raise fail(f"[red]no source {source_id} in workspace {me.workspace}[/red]", 1)
            print(json.dumps({"source_id": source_id, "allowed_origins": list(found[0].allowed_origins)}))
            return
        try:
            origins = [] if clear else (["*"] if any_origin else [normalize_origin(o) for o in allow or []])
            c.admin.operate(me, "sources", reason="allowed_origins_set", extra={"source_id": source_id,
                                                                                 "origins": len(origins)})
            stored = c.sources.set_allowed_origins(source_id=source_id, origins=origins, workspace=me.workspace)
        except OriginError as exc:
            raise fail(f"[red]{exc.code}:[/red] {exc.message}", 2) from exc
        except NotFoundError as exc:
            raise fail(f"[red]no source {source_id} in workspace {me.workspace}[/red]", 1) from exc
    print(json.dumps({"source_id": source_id, "allowed_origins": stored}))


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


def _note_rules(c: Container, types: list[str]) -> None:
    """Say how each identifier type will be resolved (its priority and per-profile limit)."""
    for kind in dict.fromkeys(types):
        rule = c.rules.get(kind)
        limit = "no limit" if rule.max_per_profile is None else f"at most {rule.max_per_profile} per profile"
        note = "" if kind in c.rules.types else " (not in the identity rules: set VEIL_COLLECT_IDENTITY_RULES_FILE)"
        console.print(f"identifier {kind}: priority {rule.priority}, {limit}{note}")


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
    identifier: Annotated[list[str] | None, typer.Option(
        "--identifier", help="type=Column: the column is an identifier (national_id, loyalty_card, phone...)")] = None,
    member_id_type: Annotated[str, typer.Option(
        help="Identifier type of the member number: user_id (one per profile) or a CRM record type")] = "user_id",
    source: Annotated[str, typer.Option(help="Source name recorded on the data")] = "crm-import",
    report: Annotated[Path | None, typer.Option(help="Write the row-level report (JSON) here")] = None,
) -> None:
    """Import CRM members (member_id, name, email, phone, birthday, member_tier...) from CSV."""
    from collect.importer import (
        count_lines,
        member_rows_to_events,
        parse_identifiers,
        parse_mapping,
        read_csv,
    )

    try:
        mapping = parse_mapping(map_ or [])
        idents = parse_identifiers(identifier or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with operator_session(workspace) as (c, me):
        _note_rules(c, [*idents.values(), member_id_type])
        events = member_rows_to_events(read_csv(path), mapping=mapping, file_tag=path.stem, identifiers=idents,
                                       member_id_type=member_id_type)
        _run_import(c, me, events, max(count_lines(path) - 1, 0), source, report)


@import_app.command("events")
def import_events_cmd(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, one Segment-spec event per line")],
    workspace: Workspace = None,
    identifier: Annotated[list[str] | None, typer.Option(
        "--identifier", help="type=dotted.path of a value in each event, e.g. national_id=traits.national_id")] = None,
    source: Annotated[str, typer.Option(help="Source name recorded on the data")] = "history-import",
    report: Annotated[Path | None, typer.Option(help="Write the row-level report (JSON) here")] = None,
) -> None:
    """Import historical events and orders (JSONL of Segment-spec events)."""
    from collect.importer import count_lines, parse_identifiers, read_jsonl_events, with_identifiers

    try:
        idents = parse_identifiers(identifier or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with operator_session(workspace) as (c, me):
        _note_rules(c, list(idents.values()))
        _run_import(c, me, with_identifiers(read_jsonl_events(path), idents), count_lines(path), source, report)


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
                for role in ("admin", "support_agent", "analyst", "compliance_officer", "marketer")}
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
