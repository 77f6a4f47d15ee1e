"""The `veil` command line, one transport among others: every command acts as a CLI operator
principal and reaches customer data only through the guarded services (see api/cli/common.py).

Layout: `common` (container, operator, options, error mapping), then one module per area.
"""

from __future__ import annotations

import typer

from api.cli import (
    activation,
    analytics,
    audit,
    data,
    dsr,
    identity,
    log,
    people,
    privacy,
    profiles,
    retention,
    secrets,
    server,
    users,
)

app = typer.Typer(help="Veil: privacy-first, on-premise Customer Data Platform.", no_args_is_help=True)
server.register(app)
data.register(app)
profiles.register(app)
people.register(app)
users.register(people.users_app)
privacy.register(app, profiles.profiles_app, people.keys_app)
audit.register(app)
dsr.register(app)
retention.register(app)
analytics.register(app)
identity.register(app)
log.register(app)
activation.register(app)
secrets.register(app)

if __name__ == "__main__":
    app()
