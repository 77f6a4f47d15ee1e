"""`veil audit verify|checkpoint|export` against the real Neo4j: every tamper kind is named at
its first bad seq, and exports round-trip.

The commands build their services with `build_container()`; the tests point the outside copy
of the checkpoints at a tmp file through the environment and sign with the installation's key
(as every service on this database does). Each tamper test appends its own records, signs a
checkpoint with `veil audit checkpoint`, tampers through `ChainGuard` (undone at teardown, safe
beside test runs appending at the same time) and verifies from just before its records.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs
from typer.testing import CliRunner

from api.cli.audit import audit_app
from api.cli.common import operator_name
from audit.chain import StoredAudit, read_jsonl, verify
from audit.checkpoint import Checkpoint, sign_checkpoint, signed_bytes
from audit.service import CSV_COLUMNS, AuditService
from graph.audit import AuditRepository
from tests.audit import test_checkpoints as shared
from tests.audit.test_checkpoints import event, live_settings
from tests.conftest import cypher

guard = shared.guard  # fixtures: a ChainGuard undone at teardown, and checkpoints to delete then
made = shared.made

runner = CliRunner()


def _run(*args: str):
    """Invoke a command, then undo the logging set-up it did (to the runner's stderr, closed after)."""
    saved = structlog.get_config()
    try:
        with capture_logs():
            return runner.invoke(audit_app, list(args))
    finally:
        structlog.configure(**saved)


@pytest.fixture()
def service(container, tmp_path: Path, monkeypatch) -> AuditService:
    """A service set up like the one the commands build (the environment tells them)."""
    monkeypatch.delenv("VEIL_AUDIT_CHECKPOINT_KEY_FILE", raising=False)
    monkeypatch.setenv("VEIL_AUDIT_CHECKPOINT_COPY_FILE", str(tmp_path / "checkpoints.jsonl"))
    monkeypatch.setenv("VEIL_AUDIT_CHECKPOINT_EVERY", "0")
    repo = AuditRepository(container.driver, database=container.neo4j.database)
    return AuditService(repo, settings=live_settings(tmp_path))


@pytest.fixture()
def signed(service, workspace, made) -> tuple[list[StoredAudit], Checkpoint]:
    """Five records of this test and a checkpoint at the head (at or past the last of them)."""
    stored = service.record_many([event(workspace, i) for i in range(5)])
    out = _run("checkpoint", "--after-seq", str(stored[0].seq - 1))
    assert out.exit_code == 0, out.output
    seq = int(out.stdout.split()[3].rstrip(":"))  # "checkpoint at seq N: hash H, key id K"
    [cp] = [c for c in service.repo.checkpoints(since_seq=seq) if c.seq == seq]
    made.append(cp)
    assert cp.seq >= stored[-1].seq
    return stored, cp


def _verify(stored: list[StoredAudit]) -> dict:
    out = _run("verify", "--after-seq", str(stored[0].seq - 1), "--json")
    result = json.loads(out.stdout)
    assert out.exit_code == (0 if result["ok"] else 1)
    return result


def _broken(stored: list[StoredAudit]) -> tuple[int, str]:
    result = _verify(stored)
    assert not result["ok"], result
    return result["broken_seq"], result["problem"]


def test_intact_chain_verifies_and_prints_counts_and_head(signed):
    stored, cp = signed
    out = _run("verify", "--after-seq", str(stored[0].seq - 1))
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("ok: ") and " records checked, head at seq " in out.stdout
    assert "signed checkpoints verified" in out.stdout
    result = _verify(stored)
    assert result["checked"] >= 5 and result["last_seq"] >= cp.seq


def test_modified_record(container, signed, guard):
    stored, _ = signed
    guard.save(stored[2].seq)
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) SET a.fields_masked = ['traits.phone']", seq=stored[2].seq)
    out = _run("verify", "--after-seq", str(stored[0].seq - 1))
    assert out.exit_code == 1
    assert out.stdout.startswith(f"broken at seq {stored[2].seq}: hash_mismatch: ")


def test_deleted_record(container, signed, guard):
    stored, _ = signed
    guard.save(stored[2].seq)
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) DETACH DELETE a", seq=stored[2].seq)
    assert _broken(stored) == (stored[2].seq, "gap")


def test_inserted_record(signed, guard, workspace):
    stored, _ = signed
    fake = event(workspace, 99, action="export", resource="profiles")
    guard.insert(stored[2].seq, fake, prev_hash=stored[1].hash)
    # The forged record links to the one before it; the record after it no longer links.
    assert _broken(stored) == (stored[2].seq + 1, "broken_link")


def test_reordered_records(container, signed, guard):
    stored, _ = signed
    a, b = stored[1].seq, stored[2].seq
    guard.save(a, b)
    cypher(container, "MATCH (x:AuditRecord {seq: $a}), (y:AuditRecord {seq: $b}) "
           "SET x.seq = -1 SET y.seq = $a SET x.seq = $b", a=a, b=b)
    assert _broken(stored) == (a, "broken_link")


def test_cleanly_truncated_tail_is_caught_by_the_checkpoint(service, signed, guard):
    stored, _ = signed
    keep = stored[2].seq
    guard.truncate(keep)
    assert service.repo.verify_chain(after_seq=stored[0].seq - 1).ok  # the chain alone can not tell
    assert _broken(stored) == (keep + 1, "truncated")


def test_rewritten_and_rehashed_suffix_is_caught_by_the_checkpoint(service, signed, guard, workspace):
    stored, cp = signed
    guard.rewrite(stored[1].seq, workspace, {"decision": "deny"})
    assert service.repo.verify_chain(after_seq=stored[0].seq - 1).ok  # the chain alone can not tell
    seq, problem = _broken(stored)
    assert problem == "checkpoint_mismatch" and stored[1].seq <= seq <= cp.seq
    out = _run("verify", "--after-seq", str(stored[0].seq - 1))
    assert f"broken at seq {seq}: checkpoint_mismatch: " in out.stdout and f"..{seq})" in out.stdout


def test_forged_checkpoints_are_reported(container, signed, made):
    stored, cp = signed
    other = Ed25519PrivateKey.generate()
    stranger = sign_checkpoint(other, stored[3].seq, stored[3].hash, datetime.now(UTC))
    made.append(stranger)
    cypher(container, "CREATE (c:AuditCheckpoint {seq: $seq, hash: $hash, at: datetime($at), key_id: $key_id, "
           "signature: $signature})", **{**stranger.to_dict(), "at": stranger.at.isoformat()})
    assert _broken(stored) == (stored[3].seq, "bad_signature")

    # Our key id, another key's signature: as if the checkpoint were edited to fit a rewrite.
    forged = Checkpoint(**{**cp.__dict__, "signature": other.sign(signed_bytes(cp.seq, cp.hash, cp.at, cp.key_id)).hex()})
    made.append(forged)
    cypher(container, "MATCH (c:AuditCheckpoint {seq: $seq, signature: $sig}) SET c.signature = $forged",
           seq=cp.seq, sig=cp.signature, forged=forged.signature)
    cypher(container, "MATCH (c:AuditCheckpoint {signature: $sig}) DETACH DELETE c", sig=stranger.signature)
    assert _broken(stored) == (cp.seq, "bad_signature")


def test_checkpoint_command_refuses_a_broken_chain(container, service, workspace, signed, guard):
    _, cp = signed
    later = service.record_many([event(workspace, i) for i in (5, 6)])
    guard.save(later[0].seq)
    # It checks what came after the latest checkpoint (the records before it were checked then).
    cypher(container, "MATCH (a:AuditRecord {seq: $seq}) SET a.reason = 'edited'", seq=later[0].seq)
    out = _run("checkpoint")
    assert out.exit_code == 1 and f"refused: broken at seq {later[0].seq}: hash_mismatch" in out.stdout
    assert later[0].seq not in [c.seq for c in service.repo.checkpoints(since_seq=cp.seq + 1)]


def test_export_is_audited_first_and_round_trips_as_jsonl_and_csv(service, workspace, tmp_path: Path):
    other = f"{workspace}-b"
    service.record(event(workspace, 1))
    service.record(event(other, 1, subject="secret-1"))
    service.record(event(workspace, 2, fields_masked=()))
    out = _run("export", "-w", workspace, "--format", "jsonl", "--out", str(tmp_path / "a.jsonl"))
    assert out.exit_code == 0, out.output
    text = (tmp_path / "a.jsonl").read_text(encoding="utf-8")
    assert "secret-1" not in text and other not in text
    records = list(read_jsonl(text.splitlines()))
    assert verify(records, after=None).ok
    mine = [r for r in records if isinstance(r, StoredAudit)]
    exported = mine[-1].event  # recorded before the file was written, so it is in it
    assert (exported.action.value, exported.actor, exported.actor_kind.value, exported.extra) == (
        "export", f"operator:{operator_name()}", "operator", {"format": "jsonl"})

    out = _run("export", "-w", workspace, "--format", "csv", "-o", str(tmp_path / "a.csv"))
    assert out.exit_code == 0, out.output
    with (tmp_path / "a.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    by_seq = {int(r["seq"]): r for r in rows}
    for rec in mine:  # every JSONL record is a CSV row with the same links and values
        row = by_seq[rec.seq]
        assert (row["hash"], row["prev_hash"], row["workspace"], row["subject"]) == (
            rec.hash, rec.prev_hash, workspace, rec.event.subject or "")
        assert (row["fields_masked"].split(";") if row["fields_masked"] else []) == list(rec.event.fields_masked)
    first = by_seq[mine[0].seq]
    assert first["fields_masked"] == "traits.email;traits.phone" and json.loads(first["extra"]) == {"n": 1}
    assert by_seq[mine[0].seq + 1]["workspace"] == "" and by_seq[mine[0].seq + 1]["hash"]  # redacted link
    assert by_seq[max(by_seq)]["action"] == "export" and by_seq[max(by_seq)]["extra"] == '{"format":"csv"}'
    assert len(rows) > len(records)  # the CSV export's own event (and any records of others since)

    bad = _run("export", "-w", "not a workspace", "-o", str(tmp_path / "x.jsonl"))
    assert bad.exit_code == 2 and not (tmp_path / "x.jsonl").exists()
    with capture_logs():
        assert service.verify(after_seq=mine[0].seq - 1).ok
