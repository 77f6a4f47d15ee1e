"""`veil serve`, `veil migrate`, `veil graphql-schema`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import console, open_container, operator_name
from api.container import ConfigError, load_secrets


def register(app: typer.Typer) -> None:
    """Attach these commands to the root app."""
    app.command()(serve)
    app.command()(migrate)
    app.command("graphql-schema")(graphql_schema)


def serve(host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int | None, typer.Option(help="Worker processes (default VEIL_API_WORKERS)")] = None) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from api.settings import AppSettings

    s = AppSettings()
    try:  # refuse before forking workers: in prod every secret must be provided or generated before
        load_secrets(env=s.env)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    uvicorn.run("api.app:create_app", factory=True, host=host or s.api_host, port=port or s.api_port,
                workers=workers or s.api_workers, log_config=None, access_log=False)


def migrate() -> None:
    """Apply schema migrations (idempotent); on a fresh install the OS user running it becomes the
    first admin operator of the CLI."""
    c = open_container()
    try:
        applied, version, latest = c.migrate()
        if c.auth.bootstrap_operator(name=operator_name()):
            console.print(f"operator {operator_name()!r} is the first admin of this install "
                          "(grant others with `veil operators grant`)")
    finally:
        c.close()
    console.print(f"schema at version {version} (latest {latest}); applied now: {applied or 'none'}")


def graphql_schema(out: Annotated[Path, typer.Option("--out", "-o")] = Path("-")) -> None:
    """Export the GraphQL SDL."""
    from api.graphql.schema import build_schema

    sdl = build_schema(introspection=False).as_str()
    if str(out) == "-":
        print(sdl)
    else:
        out.write_text(sdl + "\n", encoding="utf-8")
