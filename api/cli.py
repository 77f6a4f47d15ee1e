"""The `veil` command line: serve, migrate, sources, import, export, demo, profiles."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.container import ConfigError, Container, build_container
from audit.service import AuditUnavailable
from graph.migrations import LATEST_VERSION, apply_migrations, current_version

app = typer.Typer(help="Veil: privacy-first, on-premise Customer Data Platform.", no_args_is_help=True)
sources_app = typer.Typer(help="Collection sources and their write keys.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk import of CRM members and historical events.", no_args_is_help=True)
export_app = typer.Typer(help="Export profiles.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
profiles_app = typer.Typer(help="Inspect profiles and the merge ledger.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(demo_app, name="demo")
app.add_typer(profiles_app, name="profiles")
keys_app = typer.Typer(help="API keys for apps (GraphQL).", no_args_is_help=True)
users_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")


def _add_audit_commands() -> None:
    # api.audit_cli imports this module's _container, so it is attached after the definitions.
    import api.privacy_cli  # noqa: F401  (registers keys new-kek|rotate-kek and profiles erase)
    from api.audit_cli import audit_app
    from api.dsr_cli import dsr_app
    from api.retention_cli import retention_app

    app.add_typer(audit_app, name="audit", help="Verify, checkpoint and export the audit trail.")
    app.add_typer(dsr_app, name="dsr", help="Data-subject requests: create, list, show, advance, export.")
    app.add_typer(retention_app, name="retention", help="Retention of interactions: purge expired ones.")
    from api.analytics_cli import analytics_app, segments_app

    app.add_typer(analytics_app, name="analytics")
    app.add_typer(segments_app, name="segments")
    from api.identity_cli import identity_app

    app.add_typer(identity_app, name="identity")
console = Console(stderr=True)
Workspace = Annotated[str | None, typer.Option("--workspace", "--tenant", "-w", help="Workspace (tenant); default VEIL_DEFAULT_WORKSPACE")]


def _container() -> Container:
    from api.logs import configure_logging

    try:
        c = build_container()
        # Logs (audit lines included) go to stderr so stdout stays machine-readable (keys, exports).
        configure_logging(c.app.log_level)
        return c
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console)


def _source_id(c: Container, workspace: str, name: str) -> str:
    for s in c.sources.repo.list_sources(workspace=workspace):
        if s.name == name:
            return s.id
    return c.sources.create(workspace=workspace, name=name, kind="import").source.id


def _audit_cli(c: Container, workspace: str, action: str, resource: str, reason: str, **extra: str) -> None:
    from audit.events import AuditEvent

    c.audit.record(AuditEvent.create(workspace=workspace, actor="system:cli", actor_kind="system", role="system",
                                      action=action, resource=resource, decision="allow", reason=reason,
                                      extra=extra))


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int | None, typer.Option(help="Worker processes (default VEIL_API_WORKERS)")] = None) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from api.settings import AppSettings

    s = AppSettings()
    uvicorn.run("api.app:create_app", factory=True, host=host or s.api_host, port=port or s.api_port,
                workers=workers or s.api_workers, log_config=None, access_log=False)


@app.command()
def migrate() -> None:
    """Apply schema migrations (idempotent)."""
    c = _container()
    try:
        applied = apply_migrations(c.driver, database=c.neo4j.database)
        version = current_version(c.driver, database=c.neo4j.database)
    finally:
        c.close()
    console.print(f"schema at version {version} (latest {LATEST_VERSION}); applied now: {applied or 'none'}")


@sources_app.command("create")
def sources_create(name: Annotated[str, typer.Option(help="Source name, e.g. web, app, pos")],
                   workspace: Workspace = None,
                   write_key: Annotated[str | None, typer.Option(help="Use this key instead of a random one")] = None,
                   as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create a source and print its write key (shown once)."""
    c = _container()
    try:
        new = c.sources.create(workspace=workspace or c.app.default_workspace, name=name, write_key=write_key)
    finally:
        c.close()
    if as_json:
        print(json.dumps({"source_id": new.source.id, "workspace": new.source.workspace,
                          "name": new.source.name, "write_key": new.write_key}))
    else:
        console.print(f"source {new.source.id} ({new.source.workspace}/{new.source.name})")
        print(new.write_key)


@sources_app.command("list")
def sources_list(workspace: Workspace = None) -> None:
    """List sources (write keys are never shown again, only their first characters)."""
    c = _container()
    try:
        rows = c.sources.repo.list_sources(workspace=workspace)
    finally:
        c.close()
    table = Table("id", "workspace", "name", "kind", "key", "disabled")
    for s in rows:
        table.add_row(s.id, s.workspace, s.name, s.kind, s.key_prefix + "…", str(s.disabled))
    Console().print(table)


def _run_import(c: Container, events: Any, total: int, workspace: str, source_name: str,
                report_path: Path | None) -> None:
    from collect.importer import import_events

    src = _source_id(c, workspace, source_name)
    with _progress() as progress:
        task = progress.add_task(f"importing into {workspace}", total=total)
        report = import_events(c.ingest, events, workspace=workspace, source=src,
                               progress=lambda n: progress.advance(task, n))
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
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        events = member_rows_to_events(read_csv(path), mapping=mapping, file_tag=path.stem)
        _run_import(c, events, max(count_lines(path) - 1, 0), ws, source, report)
    finally:
        c.close()


@import_app.command("events")
def import_events_cmd(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, one Segment-spec event per line")],
    workspace: Workspace = None,
    source: Annotated[str, typer.Option(help="Source name recorded on the data")] = "history-import",
    report: Annotated[Path | None, typer.Option(help="Write the row-level report (JSON) here")] = None,
) -> None:
    """Import historical events and orders (JSONL of Segment-spec events)."""
    from collect.importer import count_lines, read_jsonl_events

    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        _run_import(c, read_jsonl_events(path), count_lines(path), ws, source, report)
    finally:
        c.close()


@export_app.command("profiles")
def export_profiles(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file ('-' for stdout)")] = Path("-"),
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    workspace: Workspace = None,
) -> None:
    """Export active profiles with traits and identifiers."""
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("format must be jsonl or csv")
    c = _container()
    ws = workspace or c.app.default_workspace
    try:
        # The export is audited before any data is written (fail closed if the trail is down).
        _audit_cli(c, ws, "export", "profiles", "export_started", format=fmt)
    except AuditUnavailable:
        c.close()
        console.print("[red]the audit trail is unavailable; nothing was exported[/red]")
        raise typer.Exit(3) from None
    fh = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8", newline="")
    n = 0
    try:
        writer = None
        for p in c.profiles.iter_profiles(workspace=ws):
            row = {"id": p.id, "first_seen": p.first_seen.isoformat() if p.first_seen else None,
                   "last_seen": p.last_seen.isoformat() if p.last_seen else None,
                   "interactions": p.interactions, "traits": p.traits,
                   "identifiers": [{"type": t, "value": v} for t, v in p.identifiers]}
            if fmt == "jsonl":
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            else:
                flat = {k: row[k] for k in ("id", "first_seen", "last_seen", "interactions")}
                flat["traits"] = json.dumps(p.traits, ensure_ascii=False, default=str)
                flat["identifiers"] = ";".join(f"{t}:{v}" for t, v in p.identifiers)
                if writer is None:
                    writer = csv.DictWriter(fh, fieldnames=list(flat))
                    writer.writeheader()
                writer.writerow(flat)
            n += 1
    finally:
        if fh is not sys.stdout:
            fh.close()
        c.close()
    console.print(f"exported {n} profiles")


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

    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        apply_migrations(c.driver, database=c.neo4j.database)
        existing = {s.name: s for s in c.sources.repo.list_sources(workspace=ws)}
        creds_file = credentials or Path(c.app.var_dir) / "demo-credentials.json"
        if "demo-web" in existing and creds_file.exists():
            console.print(f"demo data already loaded in workspace {ws!r}; credentials in {creds_file}")
            return
        new = c.sources.create(workspace=ws, name="demo-web")
        events = list(generate_events(customers=customers, seed=seed))
        started = time.perf_counter()
        stored = 0
        with _progress() as progress:
            task = progress.add_task(f"loading demo data into {ws}", total=len(events))
            for batch in batches(events, size=500):
                r = c.ingest.ingest(batch, workspace=ws, source=new.source.id)
                stored += r.stored
                progress.advance(task, len(batch))
        elapsed = time.perf_counter() - started
        counts = c.profiles.counts(workspace=ws)
        keys = {role: c.auth.create_api_key(workspace=ws, role=role, name=f"demo-{role}", actor="system:demo")[1]
                for role in ("admin", "support_agent", "analyst", "compliance_officer")}
        for role in keys:
            _audit_cli(c, ws, "key_change", "keys", "created", role=role)
        creds = {"api_url": api_url, "workspace": ws, "source": new.source.id, "write_key": new.write_key,
                 "auth": "HTTP Basic with the write key as user name and an empty password",
                 "graphql_url": api_url + "/graphql",
                 "graphql_keys": keys,
                 "graphql_auth": "Authorization: Bearer <key>, plus X-Veil-Purpose: support|analytics|marketing|..."}
        creds_file.parent.mkdir(parents=True, exist_ok=True)
        creds_file.write_text(json.dumps(creds, indent=2), encoding="utf-8")
        console.print(f"loaded {stored} events in {elapsed:.1f} s ({stored / elapsed:.0f} events/s): "
                      f"{counts['active']} profiles, {counts['merged']} merged away")
        console.print(f"credentials written to {creds_file}")
    finally:
        c.close()


def _show_profile(c: Container, ws: str, profile_id: str) -> None:
    p = c.profiles.get_profile(workspace=ws, profile_id=profile_id)
    if p is None:
        console.print(f"[red]no profile {profile_id} in workspace {ws}[/red]")
        raise typer.Exit(1)
    out = Console()
    out.print(f"[bold]profile {p.id}[/bold] ({p.status}{', merged into ' + p.merged_into if p.merged_into else ''})")
    out.print(f"first seen {p.first_seen}, last seen {p.last_seen}, {p.interactions} interactions")
    t = Table("trait", "value", "from (time, source, messageId)")
    for k, v in sorted(p.traits.items()):
        t.add_row(k, str(v), " ".join(map(str, p.trait_sources.get(k, []))))
    out.print(t)
    t = Table("identifier type", "value")
    for kind, value in p.identifiers:
        t.add_row(kind, value)
    out.print(t)
    t = Table("merge", "loser → winner", "rule", "event", "at", "undone")
    for m in c.profiles.merge_history(workspace=ws, profile_id=p.id):
        t.add_row(m.id, f"{m.loser} → {m.winner}", m.rule, m.message_id, str(m.at), str(m.undone_at or ""))
    out.print(t)
    for conflict in c.profiles.conflicts(workspace=ws, profile_id=p.id):
        out.print(f"conflict: {conflict['rule']} on {conflict['identifier']} ({conflict['reason']})")


@profiles_app.command("show")
def profiles_show(
    profile_id: Annotated[str | None, typer.Argument(help="Profile id")] = None,
    identifier: Annotated[str | None, typer.Option(help="type:value, e.g. email:amy@example.com")] = None,
    workspace: Workspace = None,
) -> None:
    """Explain a profile: traits with provenance, identifiers, merge ledger, conflicts."""
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        if identifier:
            kind, _, value = identifier.partition(":")
            found = c.profiles.find_by_identifier(workspace=ws, kind=kind, value=value)
            if found is None:
                console.print(f"[red]no profile with {identifier} in workspace {ws}[/red]")
                raise typer.Exit(1)
            profile_id = found.id
        if not profile_id:
            raise typer.BadParameter("give a profile id or --identifier")
        _show_profile(c, ws, profile_id)
    finally:
        c.close()


@profiles_app.command("unmerge")
def profiles_unmerge(merge_id: str, workspace: Workspace = None,
                     actor: Annotated[str, typer.Option(help="Who asked for it")] = "cli") -> None:
    """Undo a merge from the ledger: the loser gets its identifiers and interactions back."""
    c = _container()
    try:
        moved = c.profiles.undo_merge(workspace=workspace or c.app.default_workspace, merge_id=merge_id, actor=actor)
    finally:
        c.close()
    if moved is None:
        console.print(f"[red]merge {merge_id} not found or already undone[/red]")
        raise typer.Exit(1)
    console.print(f"merge {merge_id} undone; {moved} interactions moved back")


@keys_app.command("create")
def keys_create(role: Annotated[str, typer.Option(help="admin, data_engineer, marketer, analyst, support_agent, "
                                                  "compliance_officer or app")],
                workspace: Workspace = None, name: Annotated[str, typer.Option(help="What the key is for")] = "cli",
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create an API key (Authorization: Bearer <key> on /graphql); printed once."""
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        try:
            rec, key = c.auth.create_api_key(workspace=ws, role=role, name=name, actor="system:cli")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        _audit_cli(c, ws, "key_change", "keys", "created", key_id=rec.id, role=role)
    finally:
        c.close()
    if as_json:
        print(json.dumps({"id": rec.id, "workspace": rec.workspace, "role": rec.role, "key": key}))
    else:
        console.print(f"API key {rec.id} ({rec.workspace}, role {rec.role})")
        print(key)


@users_app.command("create")
def users_create(username: str, role: Annotated[str, typer.Option(help="Role in the workspace")],
                 workspace: Workspace = None,
                 password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                                       help="At least 12 characters")] = "") -> None:
    """Create a staff user with a role in a workspace (log in with the GraphQL `login` mutation)."""
    c = _container()
    try:
        ws = workspace or c.app.default_workspace
        try:
            user_id = c.auth.create_user(username=username, password=password)
            c.auth.assign_role(user_id=user_id, role=role, workspace=ws, actor="system:cli")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        _audit_cli(c, ws, "user_change", "users", "created", user_id=user_id, role=role)
    finally:
        c.close()
    console.print(f"user {username} ({user_id}) has role {role} in {ws}")


@app.command("graphql-schema")
def graphql_schema(out: Annotated[Path, typer.Option("--out", "-o")] = Path("-")) -> None:
    """Export the GraphQL SDL."""
    from api.graphql.schema import build_schema

    sdl = build_schema(introspection=False).as_str()
    if str(out) == "-":
        print(sdl)
    else:
        out.write_text(sdl + "\n", encoding="utf-8")


_add_audit_commands()

if __name__ == "__main__":
    app()
