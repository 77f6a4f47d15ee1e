"""The `veil` command line, one transport among others: every command acts as a CLI operator
principal and reaches customer data only through the guarded services (see api/cli/common.py).

Layout: `common` (container, operator, options, error mapping), then one module per area.
"""

from __future__ import annotations

import typer

from api.cli import (
    analytics,
    audit,
    data,
    dsr,
    identity,
    people,
    privacy,
    profiles,
    retention,
    server,
)

app = typer.Typer(help="Veil: privacy-first, on-premise Customer Data Platform.", no_args_is_help=True)
server.register(app)
data.register(app)
profiles.register(app)
people.register(app)
privacy.register(app, profiles.profiles_app, people.keys_app)
audit.register(app)
dsr.register(app)
retention.register(app)
analytics.register(app)
identity.register(app)

if __name__ == "__main__":
    app()
