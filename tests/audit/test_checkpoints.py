"""Signed checkpoints: signing and key handling (pure), and the service against the real Neo4j.

The chain and its checkpoints are global, shared with other tests and with test runs going on
at the same time, which append to it. So these tests verify from just before their own records,
never assume that their last record is the head, delete the checkpoints they made, and tamper
only through `ChainGuard`, which undoes every change without forking the chain under
concurrent appends.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs

from audit.chain import StoredAudit, chain_hash, link
from audit.checkpoint import (
    SIGNING_CONTEXT,
    Checkpoint,
    CheckpointKeyError,
    CheckpointProblem,
    append_copy,
    check_checkpoints,
    key_id,
    load_or_create_key,
    read_copy,
    sign_checkpoint,
    signed_bytes,
    trusted_keys,
    verify_checkpoint,
)
from audit.events import Actor, ActorKind, AuditAction, AuditEvent, Decision
from audit.service import AuditService, CheckpointRefused
from audit.settings import AuditSettings
from graph.audit import _RECORD, AuditRepository, _row, _stored
from tests.conftest import cypher

ANALYST = Actor(id="u-analyst", kind=ActorKind.USER, role="analyst")
AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
HASH = "ab" * 32


def event(workspace: str, i: int = 0, **over) -> AuditEvent:
    """A read event with ids and field names only."""
    values = {
        "workspace": workspace, "action": AuditAction.READ, "resource": "profile", "subject": f"p-{i}",
        "fields_returned": ("traits.tier",), "fields_masked": ("traits.email", "traits.phone"),
        "purpose": "analytics", "lawful_basis": "consent", "extra": {"n": i}, "actor": ANALYST,
    }
    values.update(over)
    return AuditEvent.create(**values)


def settings_in(tmp_path: Path, **over) -> AuditSettings:
    """Settings with a key and outside copy of this test's own; no automatic checkpoints unless asked."""
    values = {"checkpoint_key_file": tmp_path / "checkpoint.key",
              "checkpoint_copy_file": tmp_path / "checkpoints.jsonl", "checkpoint_every": 0}
    values.update(over)
    return AuditSettings(**values)


def live_settings(tmp_path: Path, **over) -> AuditSettings:
    """For tests on the shared chain: the installation's key (the default file), as every other
    service on this database signs with, so that their checkpoints in our range verify too."""
    return settings_in(tmp_path, checkpoint_key_file=AuditSettings().checkpoint_key_file, **over)


def _lock_head(tx) -> dict:
    return dict(tx.run("MATCH (h:AuditHead {id: 'global'}) SET h._lock = true "
                       "RETURN h.seq AS seq, h.hash AS hash").single(strict=True))


def _set_head(tx, seq: int, digest: str) -> None:
    tx.run("MATCH (h:AuditHead {id: 'global'}) SET h.seq = $seq, h.hash = $hash REMOVE h._lock",
           seq=seq, hash=digest)


def _shift(tx, first: int, by: int) -> None:
    """Move every record with seq >= first by `by`, through negative seqs so none collide."""
    tx.run("MATCH (a:AuditRecord) WHERE a.seq >= $first SET a.seq = -(a.seq + $by)", first=first, by=by)
    tx.run("MATCH (a:AuditRecord) WHERE a.seq < 0 SET a.seq = -a.seq")


def _drop_stale_checkpoints(tx, first: int) -> None:
    """Checkpoints signed inside a tamper window no longer match once the chain is back."""
    tx.run("MATCH (c:AuditCheckpoint) WHERE c.seq >= $first OPTIONAL MATCH (a:AuditRecord {seq: c.seq}) "
           "WITH c, a WHERE a IS NULL OR a.hash <> c.hash DETACH DELETE c", first=first)


def _relink(tx, rows: list[dict], after: tuple[int, str], changes: dict | None = None,
            workspace: str | None = None) -> str:
    """Recompute the links of `rows` (records as stored) after (seq, hash); edit `workspace`'s ones."""
    events = [_stored(r).event for r in rows]
    if changes:
        events = [AuditEvent.restore(**{**e.__dict__, **changes}) if e.workspace == workspace else e
                  for e in events]
    chained = link(events, after=after)
    for new in chained:
        tx.run("MATCH (a:AuditRecord {id: $id}) SET a += $changes, a.hash = $hash, a.prev_hash = $prev",
               id=new.event.id, hash=new.hash, prev=new.prev_hash,
               changes=changes if changes and new.event.workspace == workspace else {})
    return chained[-1].hash if chained else after[1]


class ChainGuard:
    """Tampers with the shared chain and undoes it (at teardown), safely beside concurrent appenders.

    In-place edits (`save` first) leave the head alone and are undone by putting the saved
    records back. Moving or re-hashing the head runs under the head's write lock, as appends
    do, and so does the undo: an append that comes in while a truncation is in place fails
    (the record after the kept one stays, as a blocker) instead of forking the chain; one that
    comes in after an insertion is shifted back with the rest; one after a rewrite is re-linked.
    Checkpoints that no longer match once the chain is back (signed inside the window) go.
    """

    def __init__(self, container) -> None:
        self.container = container
        self.undo: list[Callable[[], object]] = []

    def _write(self, work: Callable) -> Any:
        with self.container.driver.session(database=self.container.neo4j.database) as session:
            return session.execute_write(work)

    def save(self, *seqs: int) -> None:
        """Keep these records as they are now, to put back at teardown."""
        props = [dict(r["p"]) for r in cypher(
            self.container, "MATCH (a:AuditRecord) WHERE a.seq IN $seqs RETURN properties(a) AS p", seqs=list(seqs))]

        def put_back(tx) -> None:
            tx.run("MATCH (a:AuditRecord) WHERE a.id IN $ids DETACH DELETE a", ids=[p["id"] for p in props])
            tx.run("UNWIND $rows AS p CREATE (a:AuditRecord) SET a = p", rows=props)

        self.undo.append(lambda: self._write(put_back))

    def truncate(self, keep: int) -> None:
        """Delete the records after `keep` (but the next one, past the head) and move the head to `keep`."""
        def cut(tx) -> tuple[dict, list[dict]]:
            head = _lock_head(tx)
            gone = [dict(r["p"]) for r in tx.run(
                "MATCH (a:AuditRecord) WHERE a.seq > $blocker RETURN properties(a) AS p", blocker=keep + 1)]
            tx.run("MATCH (a:AuditRecord) WHERE a.seq > $blocker DETACH DELETE a", blocker=keep + 1)
            digest = tx.run("MATCH (a:AuditRecord {seq: $seq}) RETURN a.hash AS h", seq=keep).single(strict=True)["h"]
            _set_head(tx, keep, digest)
            return head, gone

        head, gone = self._write(cut)

        def put_back(tx) -> None:
            _lock_head(tx)
            tx.run("UNWIND $rows AS p CREATE (a:AuditRecord) SET a = p", rows=gone)
            _set_head(tx, head["seq"], head["hash"])

        self.undo.append(lambda: self._write(put_back))

    def insert(self, at: int, fake: AuditEvent, *, prev_hash: str) -> None:
        """Put a forged record (correctly hashed after `prev_hash`) at seq `at`; later records move up."""
        def add(tx) -> None:
            head = _lock_head(tx)
            _shift(tx, at, 1)
            forged = StoredAudit(seq=at, prev_hash=prev_hash, hash=chain_hash(prev_hash, fake), event=fake)
            tx.run("CREATE (a:AuditRecord) SET a = $p", p={**_row(forged), "at": fake.at})  # a typed forgery
            _set_head(tx, head["seq"] + 1, head["hash"])

        def put_back(tx) -> None:
            head = _lock_head(tx)
            tx.run("MATCH (a:AuditRecord {id: $id}) DETACH DELETE a", id=fake.id)
            _shift(tx, at + 1, -1)
            _set_head(tx, head["seq"] - 1, head["hash"])
            _drop_stale_checkpoints(tx, at)

        self._write(add)
        self.undo.append(lambda: self._write(put_back))

    def rewrite(self, first: int, workspace: str, changes: dict) -> None:
        """Edit `workspace`'s records from `first` on and re-hash everything to the head, head included."""
        def forge(tx) -> tuple[dict, list[dict]]:
            head = _lock_head(tx)
            base = tx.run("MATCH (a:AuditRecord {seq: $seq}) RETURN a.hash AS h", seq=first - 1).single(strict=True)["h"]
            rows = [r["a"] for r in tx.run(
                "MATCH (a:AuditRecord) WHERE a.seq >= $first WITH a ORDER BY a.seq RETURN " + _RECORD, first=first)]
            saved = [dict(r["p"]) for r in tx.run(
                "MATCH (a:AuditRecord) WHERE a.seq >= $first RETURN properties(a) AS p", first=first)]
            _set_head(tx, head["seq"], _relink(tx, rows, (first - 1, base), changes, workspace))
            return head, saved

        head, saved = self._write(forge)

        def put_back(tx) -> None:
            _lock_head(tx)
            tx.run("UNWIND $rows AS p MATCH (a:AuditRecord {id: p.id}) SET a = p", rows=saved)
            later = [r["a"] for r in tx.run(  # appended meanwhile, onto the forged head
                "MATCH (a:AuditRecord) WHERE a.seq > $seq WITH a ORDER BY a.seq RETURN " + _RECORD, seq=head["seq"])]
            _set_head(tx, head["seq"] + len(later), _relink(tx, later, (head["seq"], head["hash"])))
            _drop_stale_checkpoints(tx, first)

        self.undo.append(lambda: self._write(put_back))

    def restore(self) -> None:
        """Undo everything, last change first."""
        while self.undo:
            self.undo.pop()()


def delete_checkpoints(container, checkpoints: list[Checkpoint]) -> None:
    """Delete these checkpoint nodes (matched by seq and signature)."""
    cypher(container, "UNWIND $rows AS r MATCH (c:AuditCheckpoint {seq: r.seq, signature: r.signature}) "
           "DETACH DELETE c", rows=[{"seq": c.seq, "signature": c.signature} for c in checkpoints])


@pytest.fixture()
def guard(container) -> Iterator[ChainGuard]:
    """A ChainGuard that restores at teardown."""
    g = ChainGuard(container)
    yield g
    g.restore()


@pytest.fixture()
def made(container) -> Iterator[list[Checkpoint]]:
    """Checkpoints this test created (or forged), deleted at teardown."""
    created: list[Checkpoint] = []
    yield created
    delete_checkpoints(container, created)


@pytest.fixture(scope="module")
def repo(container) -> AuditRepository:
    """The audit repository on the test database."""
    return AuditRepository(container.driver, database=container.neo4j.database)


# --- signing and keys (no Neo4j) ---------------------------------------------------------------


def test_signature_covers_every_field_and_only_the_signing_key_verifies():
    key = Ed25519PrivateKey.generate()
    cp = sign_checkpoint(key, 42, HASH, AT)
    assert verify_checkpoint(key.public_key(), cp)
    assert cp.key_id == key_id(key.public_key()) and len(cp.key_id) == 16
    for change in ({"seq": 43}, {"hash": "cd" * 32}, {"at": AT + timedelta(microseconds=1)},
                   {"signature": "00" * 64}, {"signature": "not hex"}):
        assert not verify_checkpoint(key.public_key(), Checkpoint(**{**cp.__dict__, **change})), change
    other = Ed25519PrivateKey.generate()
    assert not verify_checkpoint(other.public_key(), cp)  # names another key id
    forged = Checkpoint(**{**cp.__dict__, "signature": other.sign(signed_bytes(42, HASH, AT, cp.key_id)).hex()})
    assert not verify_checkpoint(key.public_key(), forged)  # claims our key id, signed by another
    with pytest.raises(ValueError):
        sign_checkpoint(key, 1, HASH, datetime(2026, 1, 1))


def test_signed_bytes_are_a_context_tag_and_canonical_json():
    assert signed_bytes(7, HASH, AT, "k1") == SIGNING_CONTEXT + (
        '{"at":"2026-03-01T12:00:00.123456Z","hash":"' + HASH + '","key_id":"k1","seq":7}').encode()


def test_checkpoint_json_round_trip_and_bad_input():
    cp = sign_checkpoint(Ed25519PrivateKey.generate(), 5, HASH, AT)
    assert Checkpoint.from_dict(json.loads(json.dumps(cp.to_dict()))) == cp
    for bad in ({}, {**cp.to_dict(), "seq": "5"}, {**cp.to_dict(), "at": "2026-03-01T12:00:00"},
                {**cp.to_dict(), "signature": None}):
        with pytest.raises(ValueError):
            Checkpoint.from_dict(bad)


def test_key_is_created_0600_once_and_reloaded(tmp_path: Path):
    settings = settings_in(tmp_path / "sub")
    key = load_or_create_key(settings)
    path = settings.checkpoint_key_file
    assert key is not None and path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_or_create_key(settings)
    assert again is not None and key_id(again.public_key()) == key_id(key.public_key())
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.key"]  # no temp file left
    assert load_or_create_key(settings_in(tmp_path, checkpoint_key_file=None)) is None


def test_key_problems_are_refused(tmp_path: Path):
    with pytest.raises(CheckpointKeyError, match="missing"):
        load_or_create_key(settings_in(tmp_path, auto_create_key=False))
    settings = settings_in(tmp_path)
    load_or_create_key(settings)
    os.chmod(tmp_path / "checkpoint.key", 0o640)
    with pytest.raises(CheckpointKeyError, match="chmod 600"):
        load_or_create_key(settings)
    ec = tmp_path / "ec.key"
    ec.write_bytes(generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ec.chmod(0o600)
    with pytest.raises(CheckpointKeyError, match="not an Ed25519"):
        load_or_create_key(settings_in(tmp_path, checkpoint_key_file=ec))


def test_trusted_keys_include_rotated_public_keys_and_never_create_one(tmp_path: Path):
    assert trusted_keys(settings_in(tmp_path)) == {}
    assert not (tmp_path / "checkpoint.key").exists()
    old = Ed25519PrivateKey.generate()
    pub = tmp_path / "old.pub"
    pub.write_bytes(old.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    settings = settings_in(tmp_path, trusted_public_key_files=[pub])
    current = load_or_create_key(settings)
    assert current is not None
    assert set(trusted_keys(settings)) == {key_id(old.public_key()), key_id(current.public_key())}


def test_outside_copy_keeps_each_stores_checkpoints_apart(tmp_path: Path):
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "copy.jsonl"
    a, b = sign_checkpoint(key, 1, HASH, AT), sign_checkpoint(key, 2, HASH, AT)
    append_copy(path, a, store="store-a")
    append_copy(path, b, store="store-b")
    assert read_copy(path, store="store-a") == [a] and read_copy(path, store="store-b") == [b]
    assert read_copy(tmp_path / "none.jsonl", store="store-a") == []
    with path.open("a", encoding="utf-8") as out:
        out.write("{not json\n")
    with pytest.raises(ValueError, match=":3:"):
        read_copy(path, store="store-a")


def test_check_checkpoints_reports_the_lowest_bad_seq():
    key = Ed25519PrivateKey.generate()
    keys = {key_id(key.public_key()): key.public_key()}
    cps = [sign_checkpoint(key, s, f"{s:064x}", AT) for s in (10, 20, 30)]
    hashes = {s: f"{s:064x}" for s in (10, 20, 30)}
    ok = check_checkpoints(cps + cps[:1], keys=keys, head_seq=35, hashes=hashes)
    assert (ok.verified, ok.latest_seq, ok.finding) == (3, 30, None)  # duplicates count once

    rewritten = check_checkpoints(cps, keys=keys, head_seq=35, hashes={**hashes, 20: "ff" * 32})
    assert rewritten.finding is not None
    assert (rewritten.finding.seq, rewritten.finding.problem) == (20, CheckpointProblem.CHECKPOINT_MISMATCH)
    assert "11..20" in rewritten.finding.detail

    cut = check_checkpoints(cps, keys=keys, head_seq=25, hashes=hashes).finding
    assert cut is not None and (cut.seq, cut.problem) == (26, CheckpointProblem.TRUNCATED)

    stranger = sign_checkpoint(Ed25519PrivateKey.generate(), 15, f"{15:064x}", AT)
    forged = check_checkpoints([*cps, stranger], keys=keys, head_seq=35, hashes={**hashes, 15: f"{15:064x}"})
    assert forged.finding is not None and (forged.finding.seq, forged.finding.problem) == (
        15, CheckpointProblem.BAD_SIGNATURE)
    assert check_checkpoints([], keys={}, head_seq=0, hashes={}).finding is None


def test_settings_read_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("VEIL_AUDIT_CHECKPOINT_EVERY", "50")
    monkeypatch.setenv("VEIL_AUDIT_CHECKPOINT_KEY_FILE", str(tmp_path / "k.pem"))
    monkeypatch.setenv("VEIL_AUDIT_CHECKPOINT_COPY_FILE", "")
    s = AuditSettings()
    assert (s.checkpoint_every, s.checkpoint_key_file, s.checkpoint_copy_file) == (50, tmp_path / "k.pem", None)
    assert all(f.description for f in AuditSettings.model_fields.values())


# --- the service against Neo4j -------------------------------------------------------------------


def test_record_signs_a_checkpoint_every_n_records(container, repo, workspace, tmp_path, made):
    service = AuditService(repo, settings=live_settings(tmp_path, checkpoint_every=1))
    with capture_logs() as logs:
        stored = service.record(event(workspace))
    [cp] = [c for c in repo.checkpoints(since_seq=stored.seq) if c.seq == stored.seq]
    made.append(cp)
    assert (cp.hash, cp.key_id) == (stored.hash, key_id(service._signing_key().public_key()))  # type: ignore[union-attr]
    assert [x["event"] for x in logs] == ["audit", "audit_checkpoint"]
    assert read_copy(tmp_path / "checkpoints.jsonl", store=repo.store_id()) == [cp]
    props = cypher(container, "MATCH (c:AuditCheckpoint {seq: $seq}) RETURN properties(c) AS p", seq=stored.seq)[0]["p"]
    assert set(props) == {"seq", "hash", "at", "key_id", "signature"}  # no key material in Neo4j

    every2 = AuditService(repo, settings=live_settings(tmp_path, checkpoint_every=2))
    batch = every2.record_many([event(workspace, i) for i in range(3)])
    due = [s for s in batch if s.seq % 2 == 0][-1]
    made.extend(c for c in repo.checkpoints(since_seq=batch[0].seq) if c.seq == due.seq)
    assert made[1:] and made[1].hash == due.hash
    with capture_logs():
        result = every2.verify(after_seq=stored.seq - 1)
    assert result.ok, result
    assert re.match(r"\d+ signed checkpoints verified, latest at seq \d+", result.detail)


def test_a_failed_automatic_checkpoint_is_logged_and_the_event_still_stored(repo, workspace, tmp_path):
    settings = settings_in(tmp_path, checkpoint_every=1, auto_create_key=False)
    with capture_logs() as logs:
        stored = AuditService(repo, settings=settings).record(event(workspace))
    assert [x["event"] for x in logs] == ["audit", "audit_checkpoint_failed"]
    assert logs[1]["error"] == "CheckpointKeyError" and logs[1]["seq"] == stored.seq
    assert [r.seq for r in repo.iter_records(workspace)] == [stored.seq]


def test_checkpoint_is_idempotent_and_follows_the_head(container, repo, workspace, tmp_path, made):
    service = AuditService(repo, settings=live_settings(tmp_path))
    stored = service.record_many([event(workspace, i) for i in range(3)])
    with capture_logs():
        for _ in range(5):  # another test run may move the head in between; then try again
            first = service.checkpoint(after_seq=stored[0].seq - 1)
            again = service.checkpoint(after_seq=stored[0].seq - 1)
            made.extend(c for c in (first, again) if c is not None)
            if first == again:
                break
    assert first is not None and first == again and first.seq >= stored[-1].seq
    count = cypher(container, "MATCH (c:AuditCheckpoint {seq: $seq}) RETURN count(c) AS n", seq=first.seq)[0]["n"]
    assert count == 1
    assert [c.seq for c in read_copy(tmp_path / "checkpoints.jsonl", store=repo.store_id())].count(first.seq) == 1

    more = service.record(event(workspace, 9))
    with capture_logs():
        later = service.checkpoint()  # from the latest checkpoint on: a few records to check
    assert later is not None and later.seq >= more.seq
    made.append(later)
    assert AuditService(repo, settings=settings_in(tmp_path, checkpoint_key_file=None)).checkpoint() is None


def test_checkpoint_refuses_to_sign_over_a_broken_chain(container, repo, workspace, tmp_path, guard, made):
    service = AuditService(repo, settings=live_settings(tmp_path))
    stored = service.record_many([event(workspace, i) for i in range(3)])
    guard.save(stored[1].seq)
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) SET a.decision = 'deny'", seq=stored[1].seq)
    with capture_logs() as logs, pytest.raises(CheckpointRefused) as err:
        service.checkpoint(after_seq=stored[0].seq - 1)
    assert err.value.result.broken_seq == stored[1].seq
    assert logs[-1]["event"] == "audit_checkpoint_refused"
    assert read_copy(tmp_path / "checkpoints.jsonl", store=repo.store_id()) == []


def test_verify_uses_the_outside_copy_when_checkpoint_nodes_are_deleted(
        container, repo, workspace, tmp_path, guard, made):
    service = AuditService(repo, settings=live_settings(tmp_path))
    stored = service.record_many([event(workspace, i) for i in range(4)])
    with capture_logs():
        cp = service.checkpoint(after_seq=stored[0].seq - 1)
    assert cp is not None
    made.append(cp)
    # Edit from the second record on, re-hash up to the head, and delete the checkpoint node.
    guard.rewrite(stored[1].seq, workspace, {"fields_masked": []})
    cypher(container, "MATCH (c:AuditCheckpoint {seq: $seq}) DETACH DELETE c", seq=cp.seq)
    assert repo.verify_chain(after_seq=stored[0].seq - 1).ok  # the chain alone looks fine
    with capture_logs():
        result = service.verify(after_seq=stored[0].seq - 1)
    assert not result.ok and result.problem == CheckpointProblem.CHECKPOINT_MISMATCH
    assert stored[1].seq <= result.broken_seq <= cp.seq  # type: ignore[operator]
    assert result.as_dict()["problem"] == "checkpoint_mismatch"
    without_copy = AuditService(repo, settings=live_settings(tmp_path, checkpoint_copy_file=None))
    with capture_logs():
        blind = without_copy.verify(after_seq=stored[0].seq - 1)
    if not repo.checkpoints(since_seq=stored[0].seq):  # (another test run may have signed one since)
        assert blind.ok  # without the outside copy, nothing is left to tell


def test_query_filters_by_purpose_and_decision(repo, workspace):
    stored = repo.append_many([
        event(workspace, 1),
        event(workspace, 2, purpose="marketing", decision=Decision.DENY, reason="consent.missing"),
        event(workspace, 3, purpose="marketing"),
    ])
    assert [r.seq for r in repo.query(workspace, purpose="marketing")] == [stored[2].seq, stored[1].seq]
    assert [r.seq for r in repo.query(workspace, decision="deny")] == [stored[1].seq]
    assert [r.seq for r in repo.query(workspace, subject="p-3", purpose="marketing",
                                      decision=Decision.ALLOW)] == [stored[2].seq]
    assert repo.query(workspace, actor="u-analyst", purpose="support") == []
    with pytest.raises(ValueError):
        repo.query(workspace, decision="maybe")
