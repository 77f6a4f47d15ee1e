"""Writers drain the durable log into the real Neo4j: stored once, deleted only after the graph
commit, poison isolated into dead letters, out-of-order drains resolve to the same person, a
store outage keeps everything in the log, and realtime segments consume what was committed."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import neo4j
import pytest

from api.container import Container, build_container
from api.settings import AppSettings
from collect.intake import LogIntake
from collect.log.base import StoreUnavailable
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from collect.service import IngestService
from collect.settings import CollectSettings
from collect.writer import LogWriter
from graph.identity import IdentityRepository
from privacy.settings import PrivacySettings
from tests.conftest import cypher


class _Faulty:
    """The real ingest service, except that writing a batch holding `poison` raises (fault injection)."""

    def __init__(self, real: IngestService, poison: str) -> None:
        self._real = real
        self.poison = poison

    def write(self, events: list[Any], **kw: Any) -> Any:
        if any(ev.message_id == self.poison for ev in events):
            raise ValueError(f"cannot write {self.poison}")
        return self._real.write(events, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _parts(tmp_path: Path, service: Any, **kw: Any) -> tuple[SqliteLog, LogIntake, LogWriter]:
    settings = LogSettings(path=tmp_path / "events.db", **kw)
    log = SqliteLog(settings)
    return log, LogIntake(service=service, log=log), LogWriter(log=log, service=service, settings=settings)


def _interactions(container: Container, workspace: str) -> list[str]:
    rows = cypher(container, "MATCH (e:Interaction {workspace: $w}) RETURN e.message_id AS m ORDER BY m", w=workspace)
    return [r["m"] for r in rows]


def _ev(uid: str | None, anon: str, mid: str, ts: datetime, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"type": "track", "event": "Viewed", "anonymousId": anon, "messageId": mid,
                         "timestamp": ts.isoformat()}
    if uid:
        e["userId"] = uid
    return {**e, **extra}


def test_ack_then_drain_stores_once_even_when_killed_before_the_delete(container, workspace, tmp_path):
    log, intake, writer = _parts(tmp_path, container.ingest)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    r = intake.ingest([_ev("w-1", "a-1", f"k{i}", t0 + timedelta(minutes=i)) for i in range(5)],
                      workspace=workspace, source="test")
    assert (r.stored, r.duplicates) == (5, 0)
    assert _interactions(container, workspace) == []  # acked from the log, not yet in the graph
    # A writer that dies between the graph commit and the log delete: the graph has the events...
    entries = log.read(100)
    writer._write(entries)
    assert len(_interactions(container, workspace)) == 5
    assert log.stats().pending_events == 5  # ... and the log still has them
    # The next writer drains them again: nothing is duplicated.
    assert writer.drain_once() == 5
    assert _interactions(container, workspace) == [f"k{i}" for i in range(5)]
    assert cypher(container, "MATCH (p:Profile {workspace: $w, status: 'active'}) RETURN count(p) AS n",
                  w=workspace)[0]["n"] == 1
    assert log.stats().pending_events == 0
    # A retried request is answered as duplicates by the log.
    again = intake.ingest([_ev("w-1", "a-1", "k0", t0)], workspace=workspace, source="test")
    assert (again.stored, again.duplicates) == (0, 1)
    log.close()


def test_poison_event_goes_to_dead_letters_and_the_rest_is_stored(container, workspace, tmp_path):
    faulty = _Faulty(container.ingest, poison="bad-2")
    log, intake, writer = _parts(tmp_path, faulty)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    intake.ingest([_ev("p-1", "pa-1", f"bad-{i}", t0 + timedelta(seconds=i)) for i in range(4)],
                  workspace=workspace, source="test")
    intake.ingest([_ev("p-2", "pa-2", "ok-9", t0)], workspace=workspace, source="test")
    assert writer.drain_once() == 5
    assert _interactions(container, workspace) == ["bad-0", "bad-1", "bad-3", "ok-9"]
    [dl] = log.dead_letters()
    assert (dl.message_id, dl.code, dl.replayable) == ("bad-2", "write_failed", True)
    assert "ValueError: cannot write bad-2" in dl.reason
    assert log.stats().pending_events == 0
    faulty.poison = "nothing"  # the cause is fixed: replay
    assert log.replay([dl.id]) == 1
    writer.drain_once()
    assert "bad-2" in _interactions(container, workspace) and log.dead_letters() == []
    log.close()


def test_store_outage_keeps_events_in_the_log(container, workspace, tmp_path):
    # A real driver pointed at a port nothing listens on (no retry window, so the test is quick).
    dead = neo4j.GraphDatabase.driver("bolt://127.0.0.1:9", auth=("neo4j", "x"), max_transaction_retry_time=0,
                                      connection_timeout=2)
    down = IngestService(repo=IdentityRepository(dead, database="neo4j"), settings=container.collect,
                         rules=container.rules, vault=container.vault)
    try:
        log, intake, writer = _parts(tmp_path, down)
        r = intake.ingest([_ev("o-1", "oa-1", "out-1", datetime(2026, 11, 1, tzinfo=UTC))],
                          workspace=workspace, source="test")
        assert r.stored == 1  # acked while the graph is unreachable
        with pytest.raises(StoreUnavailable):
            writer.drain_once()
        assert log.stats().pending_events == 1 and log.dead_letters() == []
        # The store is back (the real one): the same log drains.
        back = LogWriter(log=log, service=container.ingest, settings=writer.settings)
        assert back.drain_once() == 1
        assert _interactions(container, workspace) == ["out-1"]
        log.close()
    finally:
        dead.close()


def test_out_of_order_drain_resolves_to_the_same_person(container, tmp_path):
    """Events of one person drained in a shuffled order give the same profile as arrival order."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        _ev(None, "ooo-anon", "o1", t0, event="Product Viewed"),
        {"type": "identify", "anonymousId": "ooo-anon", "userId": "ooo-user", "messageId": "o2",
         "timestamp": (t0 + timedelta(minutes=1)).isoformat(), "traits": {"email": "ooo@example.com", "tier": "silver"}},
        {"type": "identify", "userId": "ooo-user", "messageId": "o3", "context": {"device": {"id": "ooo-dev"}},
         "timestamp": (t0 + timedelta(minutes=2)).isoformat(), "traits": {"tier": "gold"}},
        _ev(None, "ooo-anon-2", "o4", t0 + timedelta(minutes=3), context={"device": {"id": "ooo-dev"}}),
        {"type": "alias", "userId": "ooo-user", "previousId": "ooo-anon-3", "messageId": "o5",
         "timestamp": (t0 + timedelta(minutes=4)).isoformat()},
    ]
    outcomes = []
    for order in (list(range(5)), [4, 3, 2, 1, 0], random.Random(3).sample(range(5), 5)):
        ws = f"t-{uuid.uuid4().hex[:12]}"
        log, intake, writer = _parts(tmp_path / ws, container.ingest)
        for i in order:  # one request per event, in this order
            intake.ingest([events[i]], workspace=ws, source="test")
        writer.drain_once()
        log.close()
        p = container.profiles.find_by_identifier(workspace=ws, kind="user_id", value="ooo-user")
        active = cypher(container, "MATCH (p:Profile {workspace: $w, status: 'active'}) RETURN count(p) AS n", w=ws)
        idents = cypher(container, "MATCH (i:Identifier {workspace: $w})-[:IDENTIFIES]->(p:Profile {id: $p}) "
                                   "RETURN count(i) AS n", w=ws, p=p.id)
        outcomes.append((active[0]["n"], idents[0]["n"], p.traits.get("tier"), len(_interactions(container, ws))))
    assert outcomes[0] == (1, 6, "gold", 5)  # user, email, 3 cookies, device: one person, newest tier wins
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0]


def test_policy_refusal_in_the_writer_is_a_dead_letter_without_the_value(neo4j_settings, workspace, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "fields": {"contact": "encrypt", "government_id": "reject", "financial": "tokenize", "location": "encrypt",
                   "birth_date": "encrypt", "free_text": "encrypt", "non_pii": "allow"},
        "free_text_findings": {"contact": "redact", "government_id": "reject", "financial": "tokenize",
                               "birth_date": "redact"}}))
    c = build_container(app=AppSettings(env="test"), neo=neo4j_settings, collect=CollectSettings(),
                        privacy=PrivacySettings(ingest_policy_file=policy),
                        log=LogSettings(path=tmp_path / "events.db"))
    try:
        assert c.durable is not None
        r = c.intake.ingest([
            {"type": "identify", "userId": "pr-1", "messageId": "pr-1", "traits": {"notes": "ID: A123456789"}},
            {"type": "identify", "userId": "pr-2", "messageId": "pr-2", "traits": {"tier": "gold"}},
        ], workspace=workspace, source="test")
        assert r.stored == 2
        c.durable.writer.drain()
        [dl] = c.durable.log.dead_letters()
        assert (dl.message_id, dl.code, dl.replayable) == ("pr-1", "pii_rejected", False)
        assert "traits.notes" in dl.reason and "A123456789" not in dl.reason
        row = c.durable.log._conn().execute("SELECT event FROM dead_letters").fetchone()
        assert row[0] is None  # the refused value is not kept
        assert c.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="pr-2") is not None
        assert c.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="pr-1") is None
    finally:
        c.close()
