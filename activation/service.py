"""Activation's use cases for transports (GraphQL, CLI, HTTP): every call takes the caller's context
and is authorized (and audited) before it touches journeys, the ledger or people."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from access.pipeline import Pipeline, ReadContext
from activation.audiences import AudienceExport, AudienceService
from activation.channels.base import ChannelRegistry
from activation.channels.registry import build_registry
from activation.dispatch import Dispatcher
from activation.dryrun import DryRunner, DryRunReport
from activation.engine import JourneyEngine
from activation.errors import JourneyNotFound, JourneyStateError
from activation.inbound import InboundService
from activation.model import JourneyDefinition, JourneyRecord, SendRecord, parse_definition
from activation.recipients import Recipients
from activation.settings import ActivationSettings
from activation.templates import TEMPLATES, template
from activation.unsubscribe import UnsubscribeLinks, load_or_create_key
from activation.worker import JourneyWorker, RoundReport, utcnow
from audit.service import AuditService
from consent.model import Jurisdiction
from graph.activation_journeys import HistoryRepository, JourneyRepository
from graph.activation_ledger import LedgerRepository
from graph.activation_recipients import BirthdayRepository, RecipientRepository, SegmentMembers
from graph.activation_schema import ensure_schema
from graph.consents import ConsentRepository


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _record(j: dict[str, Any]) -> JourneyRecord:
    return JourneyRecord(id=j["id"], workspace=j["workspace"], name=j["name"], template=j.get("template"),
                         status=j["status"], latest_version=int(j["latest_version"]),
                         published_version=j.get("published_version"), created_at=j["created_at"],
                         definition=parse_definition(j["definition"]))


class ActivationService:
    """Journeys, templates, the ledger and worker rounds, behind the guard."""

    def __init__(self, *, driver: Any, database: str, pipeline: Pipeline, audit: AuditService,
                 jurisdiction: Jurisdiction, settings: ActivationSettings | None = None,
                 registry: ChannelRegistry | None = None) -> None:
        # `driver` is graph.driver's neo4j.Driver, handed straight to the repositories (only graph/ uses it).
        self.settings = settings or ActivationSettings()
        self.driver, self.database = driver, database
        self.guard = pipeline  # access.guard.Guard at merge: same require(ctx, resource, action, subject=)
        self.pipeline = pipeline
        self.audit = audit
        self.jurisdiction = jurisdiction
        self.registry = registry if registry is not None else build_registry(self.settings)
        self.default_zone = self.settings.default_timezones.get(jurisdiction.value, "Asia/Taipei")
        self.journeys = JourneyRepository(driver, database=database)
        self.ledger = LedgerRepository(driver, database=database)
        self.recipients = Recipients(pipeline=pipeline, repo=RecipientRepository(driver, database=database),
                                     birthdays=BirthdayRepository(driver, database=database))
        self.engine = JourneyEngine(journeys=self.journeys, ledger=self.ledger, registry=self.registry,
                                    default_zone=self.default_zone, birth_months=self.recipients.birth_months)
        secret = self.settings.unsubscribe_secret
        self.links = UnsubscribeLinks(key=load_or_create_key(secret.get_secret_value() if secret else None),
                                      base_url=self.settings.unsubscribe_base_url)
        self.dispatcher = Dispatcher(ledger=self.ledger, recipients=self.recipients, registry=self.registry,
                                     audit=audit, settings=self.settings, default_zone=self.default_zone,
                                     definition=self.engine.definition, links=self.links)
        self.inbound = InboundService(
            consents=ConsentRepository(driver, database=database), recipients=self.recipients, links=self.links,
            audit=audit, jurisdiction=jurisdiction, line_secret=_secret(self.settings.line_channel_secret),
            sms_token=_secret(self.settings.sms_inbound_token), sms_region=self.settings.sms_default_region)
        self.audiences = AudienceService(recipients=self.recipients, members=SegmentMembers(driver, database=database),
                                         audit=audit, region=self.settings.sms_default_region)
        self.dry_runner = DryRunner(history=HistoryRepository(driver, database=database), recipients=self.recipients,
                                    default_zone=self.default_zone,
                                    quiet=(self.settings.quiet_start, self.settings.quiet_end),
                                    daily_cap=self.settings.daily_cap, k_anonymity=self.settings.dry_run_k_anonymity)
        self._ready = False
        self._lock = threading.Lock()

    def ensure_ready(self) -> None:
        """Create activation's schema and default rules once per process."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    ensure_schema(self.driver, database=self.database)
                    self._ready = True

    def close(self) -> None:
        """Stop lane threads."""
        self.dispatcher.close()

    def worker(self, workspace: str, *, clock: Callable[[], datetime] = utcnow) -> JourneyWorker:
        """A worker for one workspace (runs as the system principal `activation`)."""
        self.ensure_ready()
        return JourneyWorker(engine=self.engine, dispatcher=self.dispatcher, workspace=workspace, clock=clock,
                             poll_seconds=self.settings.poll_seconds)

    # --- journeys -------------------------------------------------------------------------------
    def _audit(self, ctx: ReadContext, reason: str, subject: str | None, write: bool = True) -> None:
        self.pipeline.audit_access(ctx, resource="journeys", reason=reason, returned=("journeys",), write=write,
                                   subject=subject)

    def templates(self, ctx: ReadContext) -> list[tuple[str, JourneyDefinition]]:
        """The ready-made journeys."""
        self.guard.require(ctx, "journeys", "read")
        return [(name, parse_definition(t)) for name, t in sorted(TEMPLATES.items())]

    def create(self, ctx: ReadContext, *, definition: Any = None, template_name: str | None = None,
               name: str | None = None) -> JourneyRecord:
        """A new draft journey from a definition or a template (optionally renamed)."""
        self.guard.require(ctx, "journeys", "write")
        self.ensure_ready()
        raw = template(template_name) if template_name else definition
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.strip().startswith("{") else raw
        if isinstance(raw, dict) and name:
            raw = {**raw, "name": name}
        d = parse_definition(raw)
        jid = f"j_{uuid.uuid4().hex[:16]}"
        self.journeys.create(id=jid, workspace=ctx.principal.workspace, name=d.name, template=template_name,
                             definition=d.model_dump_json(), actor=ctx.principal.id, now=datetime.now(UTC))
        self._audit(ctx, "journey_created", jid)
        return self.get(ctx, journey_id=jid)

    def update(self, ctx: ReadContext, *, journey_id: str, definition: Any) -> JourneyRecord:
        """A new version; people already in the journey stay on the version they entered."""
        self.guard.require(ctx, "journeys", "write", subject=journey_id)
        d = parse_definition(definition)
        version = self.journeys.add_version(id=journey_id, workspace=ctx.principal.workspace, name=d.name,
                                            definition=d.model_dump_json(), actor=ctx.principal.id,
                                            now=datetime.now(UTC))
        if version is None:
            raise JourneyNotFound("journey not found", field="journeyId")
        self._audit(ctx, f"journey_version_{version}", journey_id)
        return self.get(ctx, journey_id=journey_id)

    def publish(self, ctx: ReadContext, *, journey_id: str, version: int | None = None) -> JourneyRecord:
        """Publishing is its own permission (`journeys`, `publish`)."""
        self.guard.require(ctx, "journeys", "publish", subject=journey_id)
        self.ensure_ready()
        current = self.journeys.get(id=journey_id, workspace=ctx.principal.workspace)
        if current is None:
            raise JourneyNotFound("journey not found", field="journeyId")
        v = version or int(current["latest_version"])
        chosen = self.journeys.get(id=journey_id, workspace=ctx.principal.workspace, version=v)
        if chosen is not None:  # a journey cannot go live on a channel nobody can send on
            for step in parse_definition(chosen["definition"]).steps:
                if step.type == "send" and step.channel != "best":
                    self.registry.get(step.channel or "")
        if not self.journeys.publish(id=journey_id, workspace=ctx.principal.workspace, version=v,
                                     actor=ctx.principal.id, now=datetime.now(UTC)):
            raise JourneyStateError(f"journey has no version {v}", field="version")
        self._audit(ctx, f"journey_published_v{v}", journey_id)
        return self.get(ctx, journey_id=journey_id)

    def set_paused(self, ctx: ReadContext, *, journey_id: str, paused: bool) -> JourneyRecord:
        """Pause (no entry, no steps, no sends planned) or resume."""
        self.guard.require(ctx, "journeys", "publish", subject=journey_id)
        if not self.journeys.set_status(id=journey_id, workspace=ctx.principal.workspace,
                                        status="paused" if paused else "active"):
            raise JourneyNotFound("journey not found", field="journeyId")
        self._audit(ctx, "journey_paused" if paused else "journey_resumed", journey_id)
        return self.get(ctx, journey_id=journey_id)

    def get(self, ctx: ReadContext, *, journey_id: str) -> JourneyRecord:
        """One journey (latest version)."""
        self.guard.require(ctx, "journeys", "read", subject=journey_id)
        found = self.journeys.get(id=journey_id, workspace=ctx.principal.workspace)
        if found is None:
            raise JourneyNotFound("journey not found", field="journeyId")
        return _record(found)

    def list(self, ctx: ReadContext, *, status: str | None = None) -> list[JourneyRecord]:
        """Journeys of the caller's workspace."""
        self.guard.require(ctx, "journeys", "read")
        self.ensure_ready()
        return [_record(j) for j in self.journeys.list(workspace=ctx.principal.workspace, status=status)]

    def run_counts(self, ctx: ReadContext, *, journey_id: str) -> list[dict[str, Any]]:
        """People in a journey by state and exit reason."""
        self.guard.require(ctx, "journeys", "read", subject=journey_id)
        return self.journeys.run_counts(id=journey_id, workspace=ctx.principal.workspace)

    # --- ledger and rounds ----------------------------------------------------------------------
    def sends(self, ctx: ReadContext, *, journey_id: str | None = None, state: str | None = None,
              profile_id: str | None = None, after: str | None = None, limit: int = 100) -> list[SendRecord]:
        """Ledger rows (ids, states, reasons; no message content, no contact data)."""
        self.guard.require(ctx, "activation.sends", "read", subject=profile_id)
        self.ensure_ready()
        rows = self.ledger.list(workspace=ctx.principal.workspace, journey=journey_id, state=state,
                                profile=profile_id, after=after, limit=limit)
        self.pipeline.audit_access(ctx, resource="activation.sends", reason="listed", returned=("sends",),
                                   subject=profile_id)
        return [SendRecord(key=r["key"], journey_id=r["journey_id"], version=int(r["version"]), step=r["step"],
                           profile_id=r["profile_id"], occurrence=r["occurrence"], channel=r["channel"],
                           state=r["state"], reason=r.get("reason"), due_at=r["due_at"], expires_at=r["expires_at"],
                           attempts=int(r.get("attempts") or 0), provider_id=r.get("provider_id"),
                           updated_at=r["updated_at"]) for r in rows]

    def summary(self, ctx: ReadContext, *, journey_id: str | None = None) -> list[dict[str, Any]]:
        """Send counts by journey, channel, state and reason."""
        self.guard.require(ctx, "activation.sends", "read")
        self.ensure_ready()
        return self.ledger.summary(workspace=ctx.principal.workspace, journey=journey_id)

    def channels(self, ctx: ReadContext) -> list[dict[str, Any]]:
        """The registered senders, described."""
        self.guard.require(ctx, "journeys", "read")
        return self.registry.describe()

    def dry_run(self, ctx: ReadContext, *, journey_id: str, since: datetime, until: datetime,
                version: int | None = None) -> DryRunReport:
        """Replay history through a journey version (aggregates only, k-anonymous), audited."""
        self.guard.require(ctx, "journeys", "read", subject=journey_id)
        found = self.journeys.get(id=journey_id, workspace=ctx.principal.workspace, version=version)
        if found is None:
            raise JourneyNotFound("journey not found", field="journeyId")
        report = self.dry_runner.run(ctx, parse_definition(found["definition"]), since=since, until=until)
        self._audit(ctx, "dry_run", journey_id, write=False)
        return report

    def export_audience(self, ctx: ReadContext, *, segment_id: str, platform: str,
                        previous: dict[str, Any] | None = None) -> AudienceExport:
        """A hashed ad audience of a saved segment (consent for ads checked now), diffed with the last."""
        return self.audiences.export(ctx, segment_id=segment_id, platform=platform, previous=previous)

    def run_round(self, ctx: ReadContext, *, now: datetime | None = None) -> RoundReport:
        """Run one worker round now (same permission as publishing)."""
        self.guard.require(ctx, "journeys", "publish")
        report = self.worker(ctx.principal.workspace).tick(now)
        self._audit(ctx, "round_run", None)
        return report
