"""Audit store against the real Neo4j: one gap-free chain under concurrency, tamper detection,
fail-closed recording and re-verifiable exports.

The chain is global and shared with every other test run, so tests use their own workspace
ids, never assume where seq starts, and check their own contiguous range (one test checks the
whole chain). Tests that tamper with a record verify from a checkpoint just before their own
records, which keeps the tampering window short and a concurrent run's tampering out of their
way, and restore the record right after (fixture teardown).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import create_autospec

import neo4j
import neo4j.exceptions
import pytest
from structlog.testing import capture_logs

from audit.chain import Problem, RedactedRecord, StoredAudit, read_jsonl, verify
from audit.events import Actor, ActorKind, AuditAction, AuditEvent, Decision, InvalidAuditEvent
from audit.service import AuditService, AuditUnavailable
from graph.audit import AuditRepository
from tests.conftest import cypher

OFFICER = Actor(id="u-officer", kind=ActorKind.USER, role="compliance")
ANALYST = Actor(id="u-analyst", kind=ActorKind.USER, role="analyst")


@pytest.fixture(scope="module")
def repo(container) -> AuditRepository:
    """The audit repository on the test database (schema: migration 2, applied by `container`)."""
    return AuditRepository(container.driver, database=container.neo4j.database)


def _event(workspace: str, i: int = 0, *, actor: Actor = ANALYST, **over) -> AuditEvent:
    values = {
        "workspace": workspace, "action": AuditAction.READ, "resource": "profile", "subject": f"p-{i}",
        "fields_returned": ("traits.tier",), "fields_masked": ("traits.email", "traits.phone"),
        "purpose": "analytics", "lawful_basis": "consent", "consent_record_id": f"c-{i}",
        "extra": {"n": i, "segment_id": "seg-1"}, "actor": actor, "request_id": f"r-{i}",
    }
    values.update(over)
    return AuditEvent.create(**values)


def _range_ok(repo: AuditRepository, first: int, last: int) -> None:
    result = verify(repo.iter_records(since_seq=first - 1, until_seq=last, page=97), after=None)
    assert result.ok, result
    assert (result.first_seq, result.last_seq, result.checked) == (first, last, last - first + 1)


@pytest.fixture()
def restore_props(container) -> Iterator[list[dict]]:
    """Records (full property maps) to put back after a tampering test."""
    saved: list[dict] = []
    yield saved
    for props in saved:
        cypher(container, "MATCH (a:AuditRecord {seq: $seq}) DETACH DELETE a", seq=props["seq"])
        cypher(container, "CREATE (a:AuditRecord) SET a = $props", props=props)


def _props(container, seq: int) -> dict:
    return dict(cypher(container, "MATCH (a:AuditRecord {seq: $seq}) RETURN properties(a) AS p", seq=seq)[0]["p"])


def test_concurrent_appends_form_one_gap_free_verifiable_chain(repo, workspace):
    def worker(w: int) -> list[int]:
        return [repo.append(_event(workspace, w * 1000 + i, extra={"worker": w, "i": i})).seq for i in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        per_thread = list(pool.map(worker, range(8)))
    seqs = sorted(s for thread in per_thread for s in thread)
    assert len(seqs) == len(set(seqs)) == 400
    assert all(thread == sorted(thread) for thread in per_thread)  # each thread's appends in order
    mine = list(repo.iter_records(workspace))
    assert [r.seq for r in mine] == seqs
    _range_ok(repo, seqs[0], seqs[-1])


def test_round_trip_and_compliance_queries(repo, workspace):
    base = datetime.now(UTC)
    stored = repo.append_many([
        _event(workspace, 1),
        _event(workspace, 2, actor=OFFICER, action=AuditAction.EXPORT, resource="audit"),
        _event(workspace, 1, decision=Decision.DENY, reason="consent.missing", fields_returned=(),
               fields_masked=(), extra={}),
    ])
    assert [s.seq for s in stored] == list(range(stored[0].seq, stored[0].seq + 3))
    assert [s.prev_hash for s in stored[1:]] == [s.hash for s in stored[:-1]]
    back = list(repo.iter_records(workspace))
    assert back == stored  # every field survives the round trip, including `at` and empty lists
    _range_ok(repo, stored[0].seq, stored[-1].seq)

    by_subject = repo.query(workspace, subject="p-1")
    assert [r.seq for r in by_subject] == [stored[2].seq, stored[0].seq]  # newest first
    assert [r.seq for r in repo.query(workspace, actor="u-officer")] == [stored[1].seq]
    assert [r.seq for r in repo.query(workspace, action="export")] == [stored[1].seq]
    assert [r.seq for r in repo.query(workspace, subject="p-1", action=AuditAction.READ, limit=1)] == [stored[2].seq]
    assert len(repo.query(workspace, since=base - timedelta(minutes=1), until=datetime.now(UTC) + timedelta(seconds=1))) == 3
    assert repo.query(workspace, since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert repo.query(f"{workspace}-other") == []
    assert repo.seq_range(workspace) == (stored[0].seq, stored[-1].seq)
    with pytest.raises(ValueError):
        repo.query(workspace, since=datetime(2026, 1, 1))


def test_property_tampered_with_cypher_is_found_at_its_seq(container, repo, workspace, restore_props):
    stored = repo.append_many([_event(workspace, i) for i in range(5)])
    target = stored[2].seq
    restore_props.append(_props(container, target))
    # Hide that the e-mail was masked (what an insider covering a leak would do).
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) SET a.fields_masked = []", seq=target)
    result = repo.verify_chain(after_seq=stored[0].seq - 1)
    assert (result.ok, result.broken_seq, result.problem) == (False, target, Problem.HASH_MISMATCH)
    assert result.first_seq == stored[0].seq and result.checked == 2

    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) SET a.extra = '{\"n\":{\"nested\":1}}'", seq=target)
    # No longer a valid event: reported, not raised.
    assert repo.verify_chain(after_seq=stored[0].seq).broken_seq == target
    rest = verify(repo.iter_records(since_seq=target, until_seq=stored[-1].seq), after=None)
    assert rest.ok and rest.checked == 2  # the records after it are intact
    missing = repo.verify_chain(after_seq=10**15)
    assert (missing.ok, missing.problem) == (False, Problem.GAP)


def test_deleted_record_is_a_gap_at_its_seq(container, repo, workspace, restore_props):
    stored = repo.append_many([_event(workspace, i) for i in range(3)])
    target = stored[1].seq
    restore_props.append(_props(container, target))
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) DETACH DELETE a", seq=target)
    result = repo.verify_chain(after_seq=stored[0].seq)
    assert (result.broken_seq, result.problem) == (target, Problem.GAP)


def test_record_logs_one_line_of_ids_and_codes(repo, workspace):
    service = AuditService(repo)
    with capture_logs() as logs:
        stored = service.record(_event(workspace, 7, subject="p-7"))
    assert len(logs) == 1
    line = logs[0]
    assert line["event"] == "audit" and line["log_level"] == "info"
    assert (line["seq"], line["hash"], line["audit_id"]) == (stored.seq, stored.hash, stored.event.id)
    assert line["fields_masked"] == ["traits.email", "traits.phone"] and line["subject"] == "p-7"
    assert line["extra"] == {"n": 7, "segment_id": "seg-1"}


def test_store_failure_raises_audit_unavailable_with_a_mock_repo(workspace):
    repo = create_autospec(AuditRepository, instance=True)
    repo.append.side_effect = neo4j.exceptions.ServiceUnavailable("connection refused")
    service = AuditService(repo)
    with capture_logs() as logs, pytest.raises(AuditUnavailable) as err:
        service.record(_event(workspace))
    assert err.value.status == 503 and err.value.code == "audit_unavailable"
    assert isinstance(err.value.__cause__, neo4j.exceptions.ServiceUnavailable)
    assert [(x["event"], x["error"]) for x in logs] == [("audit_store_failed", "ServiceUnavailable")]


def test_store_failure_raises_audit_unavailable_with_an_unreachable_server(workspace):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    driver = neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", "x"), connection_timeout=2)
    try:
        service = AuditService(AuditRepository(driver, database="neo4j"))
        with pytest.raises(AuditUnavailable):
            service.record(_event(workspace))
    finally:
        driver.close()


def test_event_with_raw_email_is_rejected_before_it_reaches_the_store(workspace):
    with pytest.raises(InvalidAuditEvent, match="extra.contact"):
        _event(workspace, extra={"contact": "jane.doe@example.com"})


def test_workspace_export_reverifies_without_other_tenants_events(repo, workspace, tmp_path: Path):
    other = f"{workspace}-b"
    service = AuditService(repo)
    for i in range(3):
        service.record(_event(workspace, i))
        service.record(_event(other, i, subject=f"secret-{i}"))
    service.record(_event(workspace, 3))
    with capture_logs():
        result = service.export(workspace, tmp_path / "a.jsonl")
    text = (tmp_path / "a.jsonl").read_text(encoding="utf-8")
    assert "secret-" not in text and other not in text
    records = list(read_jsonl(text.splitlines()))
    mine = [r for r in records if isinstance(r, StoredAudit)]
    assert [r.event.workspace for r in mine] == [workspace] * 4
    assert result.records == len(records) and result.redacted == sum(isinstance(r, RedactedRecord) for r in records)
    assert result.redacted >= 3
    check = verify(records, after=None)
    assert check.ok and (check.first_seq, check.last_seq, check.last_hash) == (
        result.first_seq, result.last_seq, result.last_hash)

    lines = text.splitlines()
    lines[-1] = lines[-1].replace('"decision":"allow"', '"decision":"deny"')
    assert verify(read_jsonl(lines), after=None).broken_seq == result.last_seq
    assert service.export(f"{workspace}-none", tmp_path / "empty.jsonl").records == 0
    with pytest.raises(ValueError):
        service.export(workspace, tmp_path / "a.xml", fmt="xml")


def test_service_verify_reports_the_whole_chain(repo, workspace):
    AuditService(repo).record(_event(workspace))
    with capture_logs() as logs:
        result = AuditService(repo).verify()
    assert result.ok, result
    assert logs[0]["event"] == "audit_verified" and logs[0]["ok"] is True


def test_time_rewritten_as_a_look_alike_string_is_found(container, repo, workspace, restore_props):
    stored = repo.append(_event(workspace))
    restore_props.append(_props(container, stored.seq))
    # Same text, different type: time-range queries would silently skip this record.
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) SET a.at = toString(a.at)", seq=stored.seq)
    assert repo.query(workspace) == []
    result = repo.verify_chain(after_seq=stored.seq - 1)
    assert (result.broken_seq, result.problem) == (stored.seq, Problem.HASH_MISMATCH)


def test_whole_chain_export_verifies_from_genesis(tmp_path: Path):
    from audit.chain import GENESIS_HASH, link

    chained = link([_event("ws-x", i) for i in range(4)], after=(0, GENESIS_HASH))
    repo = create_autospec(AuditRepository, instance=True)
    repo.iter_records.return_value = iter(chained)
    with capture_logs():
        result = AuditService(repo).export(None, tmp_path / "all" / "chain.jsonl")
    assert (result.records, result.redacted, result.last_hash) == (4, 0, chained[-1].hash)
    lines = (tmp_path / "all" / "chain.jsonl").read_text(encoding="utf-8").splitlines()
    assert verify(read_jsonl(lines), head=(4, chained[-1].hash)).ok
    assert list(tmp_path.joinpath("all").iterdir()) == [tmp_path / "all" / "chain.jsonl"]  # no temp left
