"""Seed a workspace for the console's browser tests (and for looking at it by hand):

    VEIL_NEO4J_URI=bolt://127.0.0.1:7688 .venv/bin/python -m tests.console.seed --port 8014

loads a small demo brand into a fresh workspace, creates one staff user per role, records some
reads, consents and a data-subject request through the services, then serves the API.
"""

from __future__ import annotations

import argparse
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from access.principal import Principal, PrincipalKind
from api.container import Container
from collect.demo import batches, generate_events
from consent.model import Channel, Purpose

ROLES = ("admin", "compliance_officer", "marketer", "analyst", "support_agent", "data_engineer")


@dataclass
class Seeded:
    """What the tests need to know about the seeded workspace."""

    workspace: str
    passwords: dict[str, str] = field(default_factory=dict)  # role -> password; user name = f"{role}-{ws}"
    amy: str = ""  # profile id of the person whose reads are looked up
    amy_email: str = "amy.console@example.com"

    def username(self, role: str) -> str:
        """The seeded user of a role."""
        return f"{role}-{self.workspace}"


def seed(c: Container, *, workspace: str | None = None, customers: int = 250) -> Seeded:
    """Load demo data and users into a fresh workspace (about 10-20 s for 250 customers)."""
    ws = workspace or f"t-console-{uuid.uuid4().hex[:8]}"
    out = Seeded(workspace=ws)
    end = datetime.now(UTC) - timedelta(hours=1)
    for batch in batches(generate_events(customers=customers, seed=11, days=200, end=end), size=500):
        c.ingest.ingest(batch, workspace=ws, source="console-seed")
    now = datetime.now(UTC)
    amy = c.ingest.ingest([
        {"type": "identify", "userId": "M-AMY", "messageId": f"amy-{ws}", "timestamp": now.isoformat(),
         "traits": {"email": out.amy_email, "phone": "0912-345-678", "member_tier": "gold", "city": "Taipei"}},
        {"type": "track", "userId": "M-AMY", "event": "Order Completed", "messageId": f"amy-o1-{ws}",
         "timestamp": (now - timedelta(days=10)).isoformat(),
         "properties": {"order_id": f"o-amy-{ws}", "revenue": 320, "currency": "TWD",
                        "products": [{"product_id": "milk-1", "category": "dairy", "price": 80, "quantity": 4}]}},
    ], workspace=ws, source="console-seed")
    out.amy = amy.profiles[0]
    for role in ROLES:
        password = secrets.token_urlsafe(12)
        uid = c.auth.create_user(username=out.username(role), password=password)
        c.auth.assign_role(user_id=uid, role=role, workspace=ws, actor="system:seed")
        out.passwords[role] = password
    c.analytics.refresh(workspace=ws)
    # Reads of Amy by support and analytics, a consent change and a DSR: the audit trail's content.
    support = Principal(id="user:seed-support", kind=PrincipalKind.USER, workspace=ws, roles=("support_agent",))
    ctx = c.pipeline.context(support, Purpose.support)
    c.admin.record_consent(ctx, out.amy, Purpose.marketing, Channel.email, "granted", "v2", "Marketing e-mails")
    c.pipeline.read_profile(ctx, profile_id=out.amy)
    analyst = Principal(id="user:seed-analyst", kind=PrincipalKind.USER, workspace=ws, roles=("analyst",))
    c.pipeline.read_profile(c.pipeline.context(analyst, Purpose.analytics), profile_id=out.amy)
    compliance = Principal(id="user:seed-compliance", kind=PrincipalKind.USER, workspace=ws,
                           roles=("compliance_officer",))
    c.dsr.create(principal=compliance, kind="access", profile_id=out.amy)
    return out


def main() -> None:
    """Seed, print the credentials, serve the API until interrupted."""
    import uvicorn

    from api.app import create_app
    from api.container import build_container
    from graph.migrations import apply_migrations

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8014)
    parser.add_argument("--customers", type=int, default=250)
    args = parser.parse_args()
    c = build_container()
    apply_migrations(c.driver, database=c.neo4j.database)
    s = seed(c, customers=args.customers)
    print(f"workspace {s.workspace}; amy {s.amy} ({s.amy_email})")
    for role, pw in s.passwords.items():
        print(f"  {s.username(role)} / {pw}")
    uvicorn.run(create_app(c), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
