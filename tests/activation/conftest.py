"""Activation fixtures: real local receivers (SMTP server, LINE/SMS/webhook HTTP sinks) and an
activation service wired to them and to the real Neo4j."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from access.pipeline import ReadContext
from access.principal import Principal, PrincipalKind
from activation.service import ActivationService
from activation.settings import ActivationSettings
from activation.sinks import HttpSinks, SinkStore, SmtpSink
from api.container import Container
from consent.model import Purpose

LINE_TOKEN = "test-line-token-" + uuid.uuid4().hex
SMS_LOGIN = ("veil", "sms-" + uuid.uuid4().hex)
SMS_INBOUND_TOKEN = "inbound-" + uuid.uuid4().hex
WEBHOOK_SECRET = "whsec_" + "dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3ODkw"


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def sinks() -> Iterator[tuple[SinkStore, SmtpSink, HttpSinks]]:
    """A fresh SMTP server and HTTP sinks per test."""
    store = SinkStore()
    smtp = SmtpSink(store, port=free_port()).start()
    http = HttpSinks(store, port=0, line_token=LINE_TOKEN, sms_login=SMS_LOGIN,
                     webhook_secrets={"crm": WEBHOOK_SECRET}).start()
    yield store, smtp, http
    smtp.stop()
    http.stop()


def settings_for(smtp: SmtpSink, http: HttpSinks, **overrides: Any) -> ActivationSettings:
    """Settings pointing every channel at the local sinks; quiet hours off unless overridden."""
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_from": "Formosa Fresh <news@formosa.example>",
        "unsubscribe_secret": "test-unsubscribe-" + uuid.uuid4().hex, "unsubscribe_base_url": "http://127.0.0.1:8013",
        "line_base_url": http.url, "line_channel_token": LINE_TOKEN, "line_channel_secret": "line-secret-" + uuid.uuid4().hex,
        "sms_base_url": http.url, "sms_username": SMS_LOGIN[0], "sms_password": SMS_LOGIN[1],
        "sms_inbound_token": SMS_INBOUND_TOKEN,
        "webhooks": {"crm": {"url": f"{http.url}/webhooks/crm", "secret": WEBHOOK_SECRET,
                          "fields": ["traits.member_tier"]}},
        "quiet_start": "00:00", "quiet_end": "00:00", "poll_seconds": 0.05, "lease_seconds": 2}
    values.update(overrides)
    return ActivationSettings(**values)


@pytest.fixture()
def served(container: Container, act: ActivationService) -> Iterator[ActivationService]:
    """The API's activation service swapped for one wired to the sinks (restored afterwards)."""
    before = container.activation
    container.activation = act
    yield act
    container.activation = before


@pytest.fixture()
def act(container: Container, sinks: tuple[SinkStore, SmtpSink, HttpSinks]) -> Iterator[ActivationService]:
    """An activation service sending to the sinks."""
    _, smtp, http = sinks
    svc = ActivationService(driver=container.driver, database=container.neo4j.database,
                            pipeline=container.pipeline, audit=container.audit,
                            jurisdiction=container.activation.jurisdiction, settings=settings_for(smtp, http))
    svc.ensure_ready()
    yield svc
    svc.close()


def ctx_of(container: Container, workspace: str, role: str) -> ReadContext:
    """A caller's context with one role."""
    p = Principal(id=f"user:{role}-{workspace}", kind=PrincipalKind.USER, workspace=workspace, roles=(role,))
    return container.pipeline.context(p, Purpose.marketing)


def person(container: Container, workspace: str, uid: str, *, email: str | None = None, line: str | None = None,
           phone: str | None = None, traits: dict[str, Any] | None = None, consent: bool = True,
           stage: str | None = "Active", at: datetime | None = None) -> str:
    """Identify a customer (with a marketing consent grant by default); their profile id."""
    t: dict[str, Any] = dict(traits or {})
    if email:
        t["email"] = email
    if phone:
        t["phone"] = phone
    ctx: dict[str, Any] = {"consent": {"categoryPreferences": {"marketing": consent}}}
    if line:
        ctx["externalIds"] = [{"id": line, "type": "line_user_id", "collection": "users", "encoding": "none"}]
    ev = {"type": "identify", "userId": uid, "messageId": f"id-{uid}-{uuid.uuid4().hex[:6]}",
          "timestamp": (at or datetime.now(UTC)).isoformat(), "traits": t, "context": ctx}
    pid: str = container.ingest.ingest([ev], workspace=workspace, source="test").profiles[0]
    if stage is not None:
        container.driver.execute_query("MATCH (p:Profile {id: $id}) SET p.`score.lifecycle_stage` = $s",
                                       id=pid, s=stage, database_=container.neo4j.database)
    return pid


def track(container: Container, workspace: str, uid: str, event: str, at: datetime,
          props: dict[str, Any] | None = None) -> None:
    """A track event of a known user at a time."""
    container.ingest.ingest([{"type": "track", "userId": uid, "event": event, "properties": props or {},
                              "messageId": f"tr-{uid}-{uuid.uuid4().hex[:8]}", "timestamp": at.isoformat()}],
                            workspace=workspace, source="test")


def send_audits(container: Container, workspace: str) -> list[dict[str, Any]]:
    """The workspace's audit records of sends."""
    records, _, _ = container.driver.execute_query(
        "MATCH (a:AuditRecord {workspace: $ws}) WHERE a.action = 'send' RETURN a {.*} AS a ORDER BY a.seq",
        ws=workspace, database_=container.neo4j.database)
    return [r["a"] for r in records]
