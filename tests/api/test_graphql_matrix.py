"""Role x purpose x consent state through real HTTP with the `gql` client: exactly the fields,
masks or denials expected, and one audit record for each request (denials included)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from consent.model import Channel, ConsentRecord, ConsentStatus, LawfulBasis, Purpose
from tests.conftest import cypher

QUERY = gql("""query($id: ID!) { profile(id: $id) { id traits { name value masking } withheld lawfulBasis } }""")
PHONE_PARTIAL, REDACTED, WITHHELD = "09**-***-678", "[REDACTED]", "withheld"

# (role, purpose) -> what the phone looks like when the consent gate lets the read through.
PHONE = {
    ("support_agent", "support"): PHONE_PARTIAL, ("support_agent", "marketing"): REDACTED,
    ("app", "support"): REDACTED, ("app", "marketing"): REDACTED,
    ("analyst", "support"): WITHHELD, ("analyst", "marketing"): WITHHELD,
    ("compliance_officer", "support"): WITHHELD, ("compliance_officer", "marketing"): WITHHELD,
    ("admin", "support"): PHONE_PARTIAL, ("admin", "marketing"): PHONE_PARTIAL,
}
CASES = [(role, purpose, state) for role in ("support_agent", "app", "analyst", "compliance_officer", "admin",
                                             "marketer")
         for purpose in ("support", "marketing") for state in ("none", "granted", "withdrawn")]


@pytest.fixture(scope="module")
def matrix_world(container):
    """A workspace with three people: no consent, marketing granted, marketing granted then withdrawn."""
    ws = f"mx-{uuid.uuid4().hex[:10]}"
    people = {}
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    for state in ("none", "granted", "withdrawn"):
        r = container.ingest.ingest([{
            "type": "identify", "userId": f"mx-{state}", "messageId": f"mx-{state}",
            "traits": {"phone": "0912-345-678", "national_id": "A123456789", "member_tier": "gold"}}],
            workspace=ws, source="test")
        pid = r.profiles[0]
        people[state] = pid
        records = []
        if state in ("granted", "withdrawn"):
            records.append(ConsentRecord(id=str(uuid.uuid4()), subject=pid, purpose=Purpose.marketing,
                                         channel=Channel.any, status=ConsentStatus.granted,
                                         lawful_basis=LawfulBasis.consent, source="test", captured_at=t0,
                                         jurisdiction=container.pipeline.jurisdiction))
        if state == "withdrawn":
            records.append(ConsentRecord(id=str(uuid.uuid4()), subject=pid, purpose=Purpose.marketing,
                                         channel=Channel.any, status=ConsentStatus.withdrawn,
                                         lawful_basis=LawfulBasis.consent, source="test",
                                         captured_at=t0 + timedelta(days=1),
                                         jurisdiction=container.pipeline.jurisdiction))
        container.pipeline.consents.append(workspace=ws, records=records)
    keys = {role: container.auth.create_api_key(workspace=ws, role=role, name="mx", actor="test")[1]
            for role in ("support_agent", "app", "analyst", "compliance_officer", "admin", "marketer")}
    return ws, people, keys


@pytest.mark.parametrize(("role", "purpose", "state"), CASES)
def test_role_purpose_consent_matrix(container, live_server, matrix_world, role, purpose, state):
    ws, people, keys = matrix_world
    pid = people[state]
    rid = f"mx{uuid.uuid4().hex[:16]}"
    transport = HTTPXTransport(url=f"{live_server}/graphql", headers={
        "Authorization": f"Bearer {keys[role]}", "X-Veil-Purpose": purpose, "X-Request-ID": rid})
    before = cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s}) RETURN count(a) AS n",
                    w=ws, s=pid)[0]["n"]
    expected_denial = (
        "FORBIDDEN" if role == "marketer"
        else "CONSENT_DENIED" if purpose == "marketing" and state != "granted" else None)
    with Client(transport=transport, fetch_schema_from_transport=False) as session:
        if expected_denial:
            with pytest.raises(TransportQueryError) as exc:
                session.execute(QUERY, variable_values={"id": pid})
            assert exc.value.errors[0]["extensions"]["code"] == expected_denial
        else:
            profile = session.execute(QUERY, variable_values={"id": pid})["profile"]
            traits = {t["name"]: t for t in profile["traits"]}
            want = PHONE[(role, purpose)]
            if want == WITHHELD:
                assert "phone" not in traits and "traits.phone" in profile["withheld"]
            else:
                assert traits["phone"]["value"] == want
            # Government ids: never shown to these roles except admin (masked unless legal_obligation).
            if role == "admin":
                assert traits["national_id"]["value"] != "A123456789"
            else:
                assert "national_id" not in traits
            assert profile["lawfulBasis"] == ("consent" if purpose == "marketing" else "contract")
    rows = cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s}) WHERE a.request_id = $rid "
                  "RETURN a.decision AS d, a.reason AS r, a.role AS role, a.purpose AS p", w=ws, s=pid, rid=rid)
    after = cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s}) RETURN count(a) AS n",
                   w=ws, s=pid)[0]["n"]
    assert after == before + 1 and len(rows) == 1
    assert rows[0]["d"] == ("deny" if expected_denial else "allow")
    assert rows[0]["role"] == role and (rows[0]["p"] == purpose or expected_denial == "FORBIDDEN")

