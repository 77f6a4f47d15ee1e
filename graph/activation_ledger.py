"""The send ledger: one (:Send) per deterministic key, moving planned -> sending -> accepted |
failed | unknown | skipped | expired; (:SendPerson) makes one person get one message per
(journey, step, occurrence) even when two of their profiles were planned before a merge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph.driver import Repository, from_iso

PLAN = """
UNWIND $rows AS row
MERGE (s:Send {key: row.key})
ON CREATE SET s += row.props, s.workspace = $workspace, s.state = 'planned', s.attempts = 0,
              s.due_at = datetime(row.due_at), s.expires_at = datetime(row.expires_at),
              s.created_at = datetime($now), s.updated_at = datetime($now), s.new = true
WITH s WHERE s.new
REMOVE s.new
RETURN collect(s.key) AS created
"""
# The first SET takes each node's write lock, so the state check after it sees the latest commit:
# two workers never both claim one send.
CLAIM = """
MATCH (s:Send {workspace: $workspace, channel: $channel, state: 'planned'})
WHERE s.due_at <= datetime($now)
WITH s ORDER BY s.due_at LIMIT $limit
SET s.touched_at = datetime($now)
WITH s WHERE s.state = 'planned'
SET s.state = 'sending', s.claimed_by = $worker, s.lease_until = datetime($lease_until),
    s.attempts = s.attempts + 1, s.updated_at = datetime($now)
RETURN collect(s {.key, .journey_id, .version, .step, .profile_id, .occurrence, .channel, .attempts,
                  .person_base, expires_at: toString(s.expires_at), due_at: toString(s.due_at)}) AS sends
"""
# One message per person: the first send to claim (journey, step, person, occurrence) owns it.
CLAIM_PERSON = """
UNWIND $rows AS row
MERGE (d:SendPerson {key: row.person_key})
ON CREATE SET d.send = row.key, d.workspace = $workspace
RETURN collect([row.key, d.send]) AS owners
"""
FINISH = """
UNWIND $rows AS row
MATCH (s:Send {key: row.key})
SET s.state = row.state, s.reason = row.reason, s.provider_id = coalesce(row.provider_id, s.provider_id),
    s.profile_id_sent = row.profile_id_sent, s.consent_record_id = row.consent_record_id,
    s.updated_at = datetime($now), s.lease_until = null,
    s.due_at = CASE WHEN row.due_at IS NULL THEN s.due_at ELSE datetime(row.due_at) END,
    s.accepted_at = CASE WHEN row.state = 'accepted' THEN datetime($now) ELSE s.accepted_at END
"""
# Accepted sends become interactions of the person (event "Message Sent"), so reports and
# attribution see Veil's own messages; keyed by the send key, so recording twice is a no-op.
EMIT = """
UNWIND $rows AS row
MATCH (s:Send {key: row.key})
MATCH (p:Profile {id: row.profile_id_sent, workspace: s.workspace})
MERGE (e:Interaction {key: s.workspace + '|send|' + s.key})
ON CREATE SET e.workspace = s.workspace, e.message_id = s.key, e.type = 'track', e.event = 'Message Sent',
              e.channel = s.channel, e.ts = datetime($now), e.received_at = datetime($now), e.source = 'activation',
              e.utm_source = 'veil', e.utm_medium = s.channel, e.utm_campaign = s.journey_id, e.new = true
WITH p, e WHERE e.new
REMOVE e.new
CREATE (p)-[:PERFORMED]->(e)
"""
# Sends whose worker died mid-call: their lease ran out while still 'sending'.
STALE = """
MATCH (s:Send {workspace: $workspace, state: 'sending'}) WHERE s.lease_until < datetime($now)
RETURN collect(s {.key, .channel, .attempts}) AS sends
"""
RECENT = """
UNWIND $ids AS pid
OPTIONAL MATCH (s:Send {workspace: $workspace, profile_id_sent: pid, channel: $channel})
WHERE s.state = 'accepted' AND s.accepted_at >= datetime($since)
WITH pid, count(s) AS n
RETURN collect([pid, n]) AS counts
"""
_SEND_MAP = """s {.key, .journey_id, .version, .step, .profile_id, .occurrence, .channel, .state, .reason,
       .attempts, .provider_id, due_at: toString(s.due_at), expires_at: toString(s.expires_at),
       updated_at: toString(s.updated_at)}"""
LIST = """
MATCH (s:Send {workspace: $workspace})
WHERE ($journey IS NULL OR s.journey_id = $journey) AND ($state IS NULL OR s.state = $state)
  AND ($profile IS NULL OR s.profile_id = $profile OR s.profile_id_sent = $profile)
  AND ($after IS NULL OR s.key > $after)
WITH s ORDER BY s.key LIMIT $limit
RETURN collect(""" + _SEND_MAP + """) AS sends
"""
SUMMARY = """
MATCH (s:Send {workspace: $workspace})
WHERE $journey IS NULL OR s.journey_id = $journey
RETURN s.journey_id AS journey, s.channel AS channel, s.state AS state, s.reason AS reason, count(*) AS n
ORDER BY journey, channel, state, reason
"""


class LedgerRepository(Repository):
    """Reads and state changes of the send ledger."""

    def plan(self, *, workspace: str, rows: list[dict[str, Any]], now: datetime) -> set[str]:
        """Create planned sends (idempotent on key); the keys that were new."""
        if not rows:
            return set()
        found = self._write(PLAN, workspace=workspace, rows=rows, now=now.isoformat())
        return set(found[0]["created"])

    def claim(self, *, workspace: str, channel: str, worker: str, now: datetime, lease_until: datetime,
              limit: int) -> list[dict[str, Any]]:
        """Take due planned sends of one channel (state 'sending', with a lease)."""
        found = self._write(CLAIM, workspace=workspace, channel=channel, worker=worker, now=now.isoformat(),
                            lease_until=lease_until.isoformat(), limit=limit)
        sends: list[dict[str, Any]] = found[0]["sends"] if found else []
        for s in sends:
            s["expires_at"] = from_iso(s.get("expires_at"))
            s["due_at"] = from_iso(s.get("due_at"))
        return sends

    def claim_person(self, *, workspace: str, rows: list[dict[str, str]]) -> dict[str, str]:
        """For each send key, the key of the send that owns its person's message."""
        if not rows:
            return {}
        found = self._write(CLAIM_PERSON, workspace=workspace, rows=rows)
        return {k: owner for k, owner in found[0]["owners"]}

    def finish(self, *, rows: list[dict[str, Any]], now: datetime) -> None:
        """Record outcomes (or a new due time for a send held back) in one transaction."""
        if rows:
            self._write(FINISH, rows=rows, now=now.isoformat())
            accepted = [r for r in rows if r["state"] == "accepted" and r.get("profile_id_sent")]
            if accepted:
                self._write(EMIT, rows=accepted, now=now.isoformat())

    def stale(self, *, workspace: str, now: datetime) -> list[dict[str, Any]]:
        """Sends left 'sending' by a worker that died."""
        found = self._read(STALE, workspace=workspace, now=now.isoformat())
        return list(found[0]["sends"])

    def recent_counts(self, *, workspace: str, channel: str, profile_ids: list[str],
                      since: datetime) -> dict[str, int]:
        """Messages each person got on a channel since a time (for the frequency cap)."""
        if not profile_ids:
            return {}
        found = self._read(RECENT, workspace=workspace, channel=channel, ids=profile_ids, since=since.isoformat())
        return {pid: int(n) for pid, n in found[0]["counts"]}

    def list(self, *, workspace: str, journey: str | None = None, state: str | None = None,
             profile: str | None = None, after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Ledger rows in key order."""
        found = self._read(LIST, workspace=workspace, journey=journey, state=state, profile=profile, after=after,
                           limit=limit)
        sends: list[dict[str, Any]] = found[0]["sends"]
        for s in sends:
            for k in ("due_at", "expires_at", "updated_at"):
                s[k] = from_iso(s.get(k))
        return sends

    def summary(self, *, workspace: str, journey: str | None = None) -> list[dict[str, Any]]:
        """Counts by journey, channel, state and reason."""
        return [dict(r) for r in self._read(SUMMARY, workspace=workspace, journey=journey)]
