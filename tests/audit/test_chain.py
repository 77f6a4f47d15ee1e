"""Hash chain and event contract: every tamper type is found at the right seq."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from audit.chain import (
    GENESIS_HASH,
    Problem,
    RedactedRecord,
    StoredAudit,
    canonical_json,
    chain_hash,
    event_from_dict,
    event_to_dict,
    link,
    read_jsonl,
    record_to_json,
    verify,
)
from audit.events import (
    Actor,
    ActorKind,
    AuditAction,
    AuditEvent,
    Decision,
    InvalidAuditEvent,
    actor_var,
    bind,
    pseudonymize,
    request_id_var,
)

ANALYST = Actor(id="u-analyst", kind=ActorKind.USER, role="analyst")


def _event(i: int = 0, **over) -> AuditEvent:
    values = {
        "workspace": "ws-1", "action": AuditAction.READ, "resource": "profile", "subject": f"p-{i}",
        "fields_returned": ("traits.tier", "traits.city"), "fields_masked": ("traits.email",),
        "purpose": "analytics", "lawful_basis": "consent", "consent_record_id": f"c-{i}",
        "extra": {"page": i, "cached": False}, "actor": ANALYST, "request_id": f"r-{i}",
    }
    values.update(over)
    return AuditEvent.create(**values)


def _chain(n: int = 6) -> list[StoredAudit]:
    return link([_event(i) for i in range(n)], after=(0, GENESIS_HASH))


def _edit(record: StoredAudit, **changes) -> StoredAudit:
    return dataclasses.replace(record, event=AuditEvent.restore(**{**record.event.__dict__, **changes}))


def test_untouched_chain_verifies():
    records = _chain()
    result = verify(records, head=(records[-1].seq, records[-1].hash))
    assert result.ok and result.checked == 6 and result.broken_seq is None
    assert (result.first_seq, result.last_seq, result.last_hash) == (1, 6, records[-1].hash)
    assert verify([]).ok


def test_edited_record_is_found():
    records = _chain()
    records[2] = _edit(records[2], fields_masked=())  # pretend e-mail was not masked
    result = verify(records)
    assert (result.ok, result.broken_seq, result.problem) == (False, 3, Problem.HASH_MISMATCH)
    assert result.checked == 2


def test_forged_hash_is_found():
    records = _chain()
    records[3] = dataclasses.replace(records[3], hash="f" * 64)
    result = verify(records)
    assert (result.broken_seq, result.problem) == (4, Problem.HASH_MISMATCH)


def test_rewritten_and_rehashed_record_breaks_the_next_link():
    records = _chain()
    forged = _edit(records[2], decision=Decision.DENY)
    records[2] = dataclasses.replace(forged, hash=chain_hash(forged.prev_hash, forged.event))
    result = verify(records)
    assert (result.broken_seq, result.problem) == (4, Problem.BROKEN_LINK)


def test_deleted_record_is_a_gap():
    records = _chain()
    del records[2]
    result = verify(records)
    assert (result.broken_seq, result.problem) == (3, Problem.GAP)


def test_deleted_and_renumbered_records_break_the_link():
    records = _chain()
    del records[2]
    records = [dataclasses.replace(r, seq=i + 1) for i, r in enumerate(records)]
    result = verify(records)
    assert (result.broken_seq, result.problem) == (3, Problem.BROKEN_LINK)


def test_reordered_records_are_found():
    records = _chain()
    records[2], records[3] = records[3], records[2]
    result = verify(records)
    assert (result.broken_seq, result.problem) == (3, Problem.OUT_OF_ORDER)
    duplicated = _chain()
    duplicated.insert(3, duplicated[2])
    assert (verify(duplicated).broken_seq, verify(duplicated).problem) == (3, Problem.OUT_OF_ORDER)


def test_swapped_seq_numbers_break_the_link():
    records = _chain()
    a, b = records[1], records[2]
    records[1], records[2] = dataclasses.replace(b, seq=2), dataclasses.replace(a, seq=3)
    result = verify(records)
    assert (result.broken_seq, result.problem) == (2, Problem.BROKEN_LINK)


def test_deleted_tail_is_found_against_the_head():
    records = _chain()
    head = (records[-1].seq, records[-1].hash)
    result = verify(records[:-2], head=head)
    assert (result.broken_seq, result.problem) == (5, Problem.HEAD_MISMATCH)
    assert verify([], head=head).broken_seq == 1


def test_missing_genesis_and_ranges():
    records = _chain()
    assert (verify(records[2:]).broken_seq, verify(records[2:]).problem) == (1, Problem.GAP)
    assert verify(records[2:], after=None).ok
    assert verify(records[2:], after=(2, records[1].hash)).ok
    assert verify(records[2:], after=(2, "0" * 64)).problem == Problem.BROKEN_LINK


def test_redacted_links_still_verify_and_export_round_trips():
    records = _chain()
    mixed = [r if r.seq % 2 else RedactedRecord(r.seq, r.prev_hash, r.hash) for r in records]
    lines = [record_to_json(r) for r in mixed]
    back = list(read_jsonl(lines))
    assert back == mixed
    result = verify(back)
    assert result.ok and result.redacted == 3
    tampered = json.loads(lines[0])
    tampered["event"]["decision"] = "deny"
    result = verify(read_jsonl([json.dumps(tampered), *lines[1:]]))
    assert (result.broken_seq, result.problem) == (1, Problem.HASH_MISMATCH)


def test_canonical_json_is_stable_and_compact():
    e = _event(1)
    text = canonical_json(e)
    assert " " not in text and text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert json.loads(text)["at"].endswith("Z")
    assert "role" in json.loads(text) and "reason" not in json.loads(text)  # nulls left out
    other_tz = dataclasses.replace(e, at=e.at.astimezone(timezone(timedelta(hours=8))))
    assert canonical_json(other_tz) == text
    assert event_from_dict(event_to_dict(e)) == e
    assert chain_hash(GENESIS_HASH, e) == chain_hash(GENESIS_HASH, event_from_dict(json.loads(text)))


def test_create_takes_actor_and_request_id_from_contextvars():
    with bind(actor=Actor.system("nightly-export"), request_id="req-42"):
        e = AuditEvent.create(workspace="ws-1", action="export", resource="audit")
    assert (e.actor, e.actor_kind, e.role, e.request_id) == ("nightly-export", ActorKind.SYSTEM, "system", "req-42")
    assert e.at.tzinfo is UTC and e.decision is Decision.ALLOW and e.action is AuditAction.EXPORT
    assert actor_var.get() is None and request_id_var.get() is None
    with pytest.raises(InvalidAuditEvent, match="actor"):
        AuditEvent.create(workspace="ws-1", action="read", resource="profile")
    with bind(actor=ANALYST, request_id="mail me at a@b.example"):
        e = AuditEvent.create(workspace="ws-1", action="read", resource="profile")
    assert e.request_id.startswith("h:") and "@" not in e.request_id


@pytest.mark.parametrize("extra", [
    {"contact": "jane.doe@example.com"},
    {"phone": "+886912345678"},
    {"ip": "203.0.113.7"},
    {"nested": {"id": "x"}},
    {"ratio": 0.5},
    {"Bad Key": "x"},
    {"k" * 41: "x"},
    {"name": "Jane Doe"},
    {f"k{i}": i for i in range(17)},
])
def test_values_and_nested_objects_are_rejected_in_extra(extra):
    with pytest.raises(InvalidAuditEvent):
        _event(extra=extra)


def test_raw_identifiers_are_rejected_everywhere():
    with pytest.raises(InvalidAuditEvent, match="subject"):
        _event(subject="jane.doe@example.com")
    with pytest.raises(InvalidAuditEvent, match="fields_returned"):
        _event(fields_returned=("jane.doe@example.com",))
    with pytest.raises(InvalidAuditEvent, match="fields_returned"):
        _event(fields_returned="traits.email")
    with pytest.raises(InvalidAuditEvent, match="action"):
        _event(action="denied")
    with pytest.raises(InvalidAuditEvent, match="at"):
        AuditEvent(**{**_event().__dict__, "at": datetime(2026, 1, 1)})
    ok = _event(extra={"segment_id": "seg-1", "rows": 12, "dry_run": True, "cursor": None})
    assert ok.extra == {"segment_id": "seg-1", "rows": 12, "dry_run": True, "cursor": None}


def test_pseudonymize_is_keyed_and_stable():
    key = b"k" * 32
    a = pseudonymize("jane.doe@example.com", key)
    assert a == pseudonymize("jane.doe@example.com", key) and len(a) == 64
    assert a != pseudonymize("jane.doe@example.com", b"x" * 32)
    assert _event(subject=a).subject == a
    with pytest.raises(ValueError):
        pseudonymize("x", b"short")


def test_actor_can_be_given_as_a_principal_id():
    e = AuditEvent.create(workspace="ws-1", actor="user:42", actor_kind="user", role="analyst,support_agent",
                          action=AuditAction.READ, resource="profile.consents", decision=Decision.DENY,
                          reason="consent_withdrawn")
    assert (e.actor, e.actor_kind, e.role) == ("user:42", ActorKind.USER, "analyst,support_agent")
    with pytest.raises(InvalidAuditEvent, match="actor_kind"):
        AuditEvent.create(workspace="ws-1", actor="user:42", action="read", resource="profile")
    with bind(actor=ANALYST):
        assert AuditEvent.create(workspace="ws-1", action="read", resource="profile", role="admin").role == "admin"
    keyed = AuditEvent.create(workspace="ws-1", actor="key:7", actor_kind=ActorKind.API_KEY, role="",
                              action="read", resource="profile", reason="")
    assert (keyed.role, keyed.reason) == (None, None)
