"""Ingestion service: validate, normalise, resolve identities and store a batch of events.

Good events in a batch are stored even when others are rejected; the result says which
were rejected and why. No web framework here: HTTP routes, the CLI importer and the demo
loader all call `IngestService.ingest`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson

from collect.coalesce import Coalescer
from collect.events import EventError, NormalizedEvent, Normalizer
from collect.isolate import write_isolating
from collect.resolution import Planner, ProfileState, Snapshot
from collect.results import IngestResult, Rejection, fill_result
from collect.rules import IdentityRules
from collect.sealing import TraitSealer
from collect.settings import CollectSettings
from consent.model import ConsentRecord, Jurisdiction
from consent.signals import ConsentSignal, SignalError, read_signals
from graph.consents import ConsentRepository
from graph.identity import (
    BatchOutcome,
    BatchWrite,
    IdentifierRow,
    IdentityRepository,
    StoredProfile,
)
from privacy.ingest_scan import IngestScanner
from privacy.vault import SEALED_INTERACTION_FIELDS, FieldVault, is_pii_identifier

SUPPRESSED = "suppressed_identity"

log = logging.getLogger("veil.collect")


def _has_consent(context: dict[str, Any]) -> bool:
    return bool(context.get("consent") or context.get("gdpr_consent") or context.get("google_consent")
                or context.get("gpc"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json(value: Any) -> str | None:
    if not value:
        return None
    return orjson.dumps(value, default=str).decode()


def _interaction_props(workspace: str, source: str, ev: NormalizedEvent, ident: str) -> dict[str, Any]:
    ctx = ev.context
    campaign = ctx.get("campaign") if isinstance(ctx.get("campaign"), dict) else {}
    page = ctx.get("page") if isinstance(ctx.get("page"), dict) else {}
    props = {
        "workspace": workspace,
        "message_id": ev.message_id,
        "type": ev.type,
        "event": ev.event,
        "source": source,
        "channel": ev.channel,
        "ident": ident,
        "properties": _json(ev.properties),
        "context": _json(ctx),
        "utm_source": campaign.get("source"),
        "utm_medium": campaign.get("medium"),
        "utm_campaign": campaign.get("name"),
        "page_url": page.get("url"),
        "referrer": page.get("referrer"),
        "order_id": ev.order_id,
        "revenue": ev.revenue,
        "currency": ev.currency,
        "store_id": ev.store_id,
        "group_id": ev.group_id,
    }
    return {k: v for k, v in props.items() if v is not None}


class IngestService:
    """Turns raw Segment-spec events into graph writes."""

    def __init__(self, *, repo: IdentityRepository, settings: CollectSettings, rules: IdentityRules,
                 vault: FieldVault, consents: ConsentRepository | None = None,
                 jurisdiction: Jurisdiction = Jurisdiction.TW_PDPA,
                 suppressed: Callable[[list[str]], set[str]] | None = None,
                 scanner: IngestScanner | None = None,
                 sealed_trait: Callable[[str, str], bool] | None = None) -> None:
        self.repo = repo
        # (workspace, trait name) -> sealed at rest; the trait catalog's answer (default: by name)
        self.sealed_trait = sealed_trait
        self.vault = vault
        self.suppressed = suppressed
        self.scanner = scanner
        self.coalescer: Coalescer | None = None
        # Called with (workspace, profile ids) after a batch commits (e.g. realtime segments); must not block.
        self.on_written: list[Callable[[str, list[str]], None]] = []
        self.consents = consents
        self.jurisdiction = jurisdiction
        self.settings = settings
        self.rules = rules
        self.normalizer = Normalizer(
            rules=rules, default_region=settings.default_region,
            max_future_s=settings.max_future_skew_seconds,
        )

    def validate(
        self, raw_events: list[Any], *, received_at: datetime, sent_at: datetime | None = None,
        forced_type: str | None = None, sec_gpc: str | None = None,
    ) -> tuple[list[tuple[int, NormalizedEvent]], IngestResult, dict[int, tuple[ConsentSignal, ...]]]:
        """Normalise every event and read its consent signals; collect rejections by index."""
        result = IngestResult(received=len(raw_events))
        accepted: list[tuple[int, NormalizedEvent]] = []
        signals: dict[int, tuple[ConsentSignal, ...]] = {}
        seen: set[str] = set()
        for i, raw in enumerate(raw_events):
            try:
                size = len(orjson.dumps(raw))
            except TypeError as exc:
                if "recursion" in str(exc).lower():  # orjson refuses more than 255 levels; so does the store
                    result.rejected.append(Rejection(i, "invalid_value", "the event is nested more than 255 "
                                                                         "levels deep", None))
                    continue
                size = len(json.dumps(raw, default=str))
            if size > self.settings.max_event_bytes:
                result.rejected.append(Rejection(
                    i, "event_too_large",
                    f"event is {size} bytes; the limit is {self.settings.max_event_bytes} bytes (32 KB)", None))
                continue
            try:
                ev = self.normalizer.normalize(raw, received_at=received_at, sent_at_batch=sent_at,
                                               forced_type=forced_type)
            except EventError as exc:
                result.rejected.append(Rejection(i, exc.code, exc.message, exc.field))
                continue
            if sec_gpc or _has_consent(ev.context):
                try:
                    parsed = read_signals({"context": ev.context}, sec_gpc=sec_gpc)
                except SignalError as exc:
                    result.rejected.append(Rejection(i, "invalid_consent", exc.message, exc.field))
                    continue
                if parsed.signals:
                    signals[i] = parsed.signals
            result.warnings.extend((i, w) for w in ev.warnings)
            if ev.message_id in seen:
                result.duplicates += 1
                continue
            seen.add(ev.message_id)
            accepted.append((i, ev))
        return accepted, result, signals

    def ingest(
        self, raw_events: list[Any], *, workspace: str, source: str, received_at: datetime | None = None,
        sent_at: datetime | None = None, forced_type: str | None = None, sec_gpc: str | None = None,
    ) -> IngestResult:
        """Validate and store a batch; good events are stored even if others are rejected."""
        received_at = received_at or datetime.now(UTC)
        accepted, result, signals = self.validate(
            raw_events, received_at=received_at, sent_at=sent_at, forced_type=forced_type, sec_gpc=sec_gpc)
        if accepted and self.suppressed is not None:
            accepted = self.drop_suppressed(accepted, result, workspace=workspace)
        if accepted and self.scanner is not None:
            accepted = self.scan(accepted, result, workspace=workspace)
        if not accepted:
            return result
        self.store(accepted, result, workspace=workspace, source=source)
        accepted = [(i, ev) for i, ev in accepted if i in result.profiles]  # minus any the store refused
        if signals and self.consents is not None:
            self.record_consents(accepted, signals, result, workspace=workspace)
        if self.on_written and result.profiles:
            touched = sorted(set(result.profiles.values()))
            for hook in self.on_written:
                try:
                    hook(workspace, touched)
                except Exception:  # the events are stored; a follow-up failure must not fail the request
                    log.exception("after-write hook failed")
        return result

    def _event_keys(self, ev: NormalizedEvent, workspace: str) -> list[str]:
        pairs = list(ev.identifiers)
        if ev.previous_id:
            pairs += [("user_id", ev.previous_id), ("anonymous_id", ev.previous_id)]
        return [self.vault.identifier_key(workspace, kind, value) for kind, value in pairs]

    def drop_suppressed(self, accepted: list[tuple[int, NormalizedEvent]], result: IngestResult, *,
                         workspace: str) -> list[tuple[int, NormalizedEvent]]:
        """Refuse events carrying an identifier of an erased person (one lookup per batch)."""
        assert self.suppressed is not None
        keys = {i: self._event_keys(ev, workspace) for i, ev in accepted}
        hits = self.suppressed(sorted({k for ks in keys.values() for k in ks}))
        if not hits:
            return accepted
        kept = []
        for i, ev in accepted:
            if hits.intersection(keys[i]):
                result.rejected.append(Rejection(
                    i, SUPPRESSED, "an identifier of this event belongs to an erased person; the event was not "
                                   "stored", None))
            else:
                kept.append((i, ev))
        result.rejected.sort(key=lambda r: r.index)
        return kept

    def scan(self, accepted: list[tuple[int, NormalizedEvent]], result: IngestResult, *,
             workspace: str) -> list[tuple[int, NormalizedEvent]]:
        """Trait catalog + free-text scanning + the ingest policy; refused events become rejections."""
        assert self.scanner is not None
        # context.traits is stored with the interaction's context: it gets the same treatment.
        ctx_traits = [ev.context["traits"] if isinstance(ev.context.get("traits"), dict) else {} for _, ev in accepted]
        scanned = self.scanner.scan_batch(workspace=workspace, events=[
            (ev.traits, ev.properties, ctx) for (_, ev), ctx in zip(accepted, ctx_traits, strict=True)])
        kept: list[tuple[int, NormalizedEvent]] = []
        for (i, ev), ctx, out in zip(accepted, ctx_traits, scanned, strict=True):
            if out.refusal is not None:
                result.rejected.append(Rejection(i, out.refusal.code, out.refusal.message, out.refusal.field))
            elif out.traits is ev.traits and out.properties is ev.properties and out.context_traits is ctx:
                kept.append((i, ev))
            else:
                context = ev.context if out.context_traits is ctx else {**ev.context, "traits": out.context_traits}
                kept.append((i, dataclasses.replace(ev, traits=out.traits, properties=out.properties,
                                                    context=context)))
        result.rejected.sort(key=lambda r: r.index)
        return kept

    def record_consents(self, accepted: list[tuple[int, NormalizedEvent]],
                         signals: dict[int, tuple[ConsentSignal, ...]], result: IngestResult, *,
                         workspace: str) -> None:
        """Consent signals become records of the profile the event landed on (ids are deterministic,
        so a retried event records nothing twice)."""
        records: list[ConsentRecord] = []
        for i, ev in accepted:
            for sig in signals.get(i, ()):
                rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{workspace}|{ev.message_id}|{sig.purpose.value}|"
                                                         f"{sig.channel.value}|{sig.source}"))
                records.append(sig.to_record(id=rid, subject=result.profiles[i], captured_at=ev.ts,
                                             jurisdiction=self.jurisdiction))
        assert self.consents is not None
        self.consents.append(workspace=workspace, records=records)
        result.consents += len(records)

    def store(
        self, accepted: list[tuple[int, NormalizedEvent]], result: IngestResult, *, workspace: str, source: str
    ) -> None:
        """Resolve identities and write accepted events (coalesced with concurrent requests when enabled)."""
        if self.coalescer is not None:
            self.coalescer.store(accepted, result, workspace=workspace, source=source)
        else:
            w = write_isolating(self.write, [ev for _, ev in accepted], workspace=workspace, source=source)
            fill_result(accepted, result, w.landing, w.created, workspace=workspace, failed=w.failed)
            result.merges += w.merges
            result.conflicts += w.conflicts
            result.new_profiles += w.new_profiles
        result.rejected.sort(key=lambda r: r.index)

    def write(
        self, events: list[NormalizedEvent], *, workspace: str, source: str
    ) -> tuple[list[str], frozenset[str], BatchOutcome]:
        """Resolve identities and write events (unique messageIds) in one transaction."""
        vault = self.vault
        key_of = vault.identifier_key
        alias_keys = [key_of(workspace, "user_id", ev.previous_id) for ev in events if ev.previous_id]
        existing_users = self.repo.existing_keys(alias_keys)
        idents: dict[str, IdentifierRow] = {}
        values: dict[str, tuple[str, str]] = {}  # key -> (type, plain value), for sealing at link time
        for ev in events:
            pairs = list(ev.identifiers)
            if ev.previous_id:
                k = key_of(workspace, "user_id", ev.previous_id)
                pairs.append(("user_id" if k in existing_users else "anonymous_id", ev.previous_id))
            for kind, value in pairs:
                key = key_of(workspace, kind, value)
                if key not in idents:
                    sealed = vault.enabled and is_pii_identifier(kind)
                    idents[key] = IdentifierRow(key, kind, None if sealed else value, ev.ts)
                    if sealed:
                        values[key] = (kind, value)
        planner = Planner(rules=self.rules, workspace=workspace, source_id=source, key_of=key_of)
        landing: list[str] = []

        def plan(owner: dict[str, str | None], stored: dict[str, StoredProfile]) -> BatchWrite:
            sealer = (TraitSealer(vault, is_pii=partial(self.sealed_trait, workspace)) if self.sealed_trait
                      else TraitSealer(vault))
            plain = sealer.open({pid: p.traits for pid, p in stored.items()})
            states = {
                pid: ProfileState(id=pid, limited={k: set(v) for k, v in p.limited.items()},
                                  traits=plain[pid], meta=dict(p.meta), first_seen=p.first_seen)
                for pid, p in stored.items()
            }
            out = planner.plan(events, Snapshot(owner=owner, profiles=states))
            landing[:] = out.landing
            # Every data key this batch seals under, loaded or created in one key-store round trip.
            vault.prepare(workspace, [*out.landing, *(p.id for p in out.trait_writes),
                                      *(pid for _, pid, _ in out.links), *(m.loser for m in out.merges)],
                          create=True)
            last_seen: dict[str, datetime] = {}
            for ev, pid in zip(events, out.landing, strict=True):
                if pid not in last_seen or ev.ts > last_seen[pid]:
                    last_seen[pid] = ev.ts
            dirty = {p.id: p for p in out.trait_writes}
            updates = []
            new_ids = {p.id: p for p in out.new_profiles}
            for pid in set(dirty) | set(last_seen) | set(new_ids):
                p = dirty.get(pid)
                updates.append({
                    "id": pid,
                    "props": sealer.seal(pid, p.traits) if p else {},
                    "meta": json.dumps(p.meta, ensure_ascii=False) if p else None,
                    "first_seen": _iso(p.first_seen if p else new_ids[pid].first_seen if pid in new_ids else None),
                    "last_seen": _iso(last_seen.get(pid)),
                })
            return BatchWrite(
                new_profiles=[{"id": p.id} for p in out.new_profiles],
                links=[{"key": k, "profile": p, "message_id": m,
                        "value": vault.seal(p, values[k][1]) if k in values else None} for k, p, m in out.links],
                merges=[{
                    "merge_id": m.merge_id, "loser": m.loser, "winner": m.winner, "root": m.root,
                    "rule": m.rule, "message_id": m.message_id, "at": m.at.isoformat(),
                    "loser_traits": vault.seal(m.loser, m.loser_traits),
                } for m in out.merges],
                interactions=[{
                    "key": f"{workspace}|{ev.message_id}",
                    "ts": ev.ts.isoformat(),
                    "received_at": ev.received_at.isoformat(),
                    "profile": pid,
                    "props": self._seal_interaction(pid, _interaction_props(
                        workspace, source, ev, key_of(workspace, *ev.ident))),
                    "items": [{
                        "key": f"{workspace}|{li.product_id}", "product_id": li.product_id,
                        "name": li.name, "category": li.category, "price": li.price, "quantity": li.quantity,
                    } for li in ev.line_items],
                } for ev, pid in zip(events, out.landing, strict=True)],
                profile_updates=updates,
                conflicts=[{
                    "message_id": c.message_id, "rule": c.rule, "identifier": c.identifier,
                    "profiles": list(c.profiles), "reason": c.reason, "at": c.at.isoformat(),
                } for c in out.conflicts],
            )

        outcome = self.repo.write_batch(
            workspace=workspace, source=source, identifiers=list(idents.values()),
            limited_types=self.rules.limited_types, plan=plan,
        )
        return list(landing), outcome.created_keys, outcome

    def _seal_interaction(self, profile_id: str, props: dict[str, Any]) -> dict[str, Any]:
        """Seal the interaction fields that may carry PII under the landing profile's key."""
        for name in SEALED_INTERACTION_FIELDS:
            if name in props:
                props[name] = self.vault.seal(profile_id, props[name])
        return props
