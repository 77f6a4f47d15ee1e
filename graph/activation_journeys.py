"""Journeys, their versions and the people in them (runs): the durable schedule of the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph.driver import Repository, from_iso

CREATE_JOURNEY = """
CREATE (j:Journey {id: $id, workspace: $workspace, name: $name, template: $template, status: 'draft',
                   latest_version: 1, created_at: datetime($now), created_by: $actor})
CREATE (v:JourneyVersion {key: $id + ':1', journey_id: $id, version: 1, definition: $definition,
                          created_at: datetime($now), created_by: $actor})
CREATE (j)-[:HAS_VERSION]->(v)
"""
ADD_VERSION = """
MATCH (j:Journey {id: $id, workspace: $workspace})
SET j.latest_version = j.latest_version + 1, j.name = $name
CREATE (v:JourneyVersion {key: $id + ':' + toString(j.latest_version), journey_id: $id,
                          version: j.latest_version, definition: $definition, created_at: datetime($now),
                          created_by: $actor})
CREATE (j)-[:HAS_VERSION]->(v)
RETURN j.latest_version AS version
"""
# Publishing pins a version for new entrants; people already in keep the version they entered on.
PUBLISH = """
MATCH (j:Journey {id: $id, workspace: $workspace})-[:HAS_VERSION]->(v:JourneyVersion {version: $version})
SET j.published_version = $version, j.status = 'active', v.published_at = datetime($now),
    v.published_by = $actor, j.cursor = coalesce(j.cursor, datetime($now))
RETURN j.id AS id
"""
SET_STATUS = """
MATCH (j:Journey {id: $id, workspace: $workspace}) SET j.status = $status RETURN j.id AS id
"""
_JOURNEY_MAP = """j {.id, .workspace, .name, .template, .status, .latest_version, .published_version,
       created_at: toString(j.created_at), cursor: toString(j.cursor), .last_occurrence}"""
GET = """
MATCH (j:Journey {id: $id, workspace: $workspace})-[:HAS_VERSION]->(v:JourneyVersion)
WHERE v.version = coalesce($version, j.latest_version)
RETURN """ + _JOURNEY_MAP + """ AS j, v.definition AS definition, v.version AS version
"""
LIST = """
MATCH (j:Journey {workspace: $workspace})-[:HAS_VERSION]->(v:JourneyVersion)
WHERE v.version = j.latest_version AND ($status IS NULL OR j.status = $status)
RETURN """ + _JOURNEY_MAP + """ AS j, v.definition AS definition, v.version AS version
ORDER BY j.created_at
"""
ACTIVE = """
MATCH (j:Journey {workspace: $workspace, status: 'active'})-[:HAS_VERSION]->(v:JourneyVersion)
WHERE v.version = j.published_version
RETURN """ + _JOURNEY_MAP + """ AS j, v.definition AS definition, v.version AS version
"""
VERSIONS = """
MATCH (v:JourneyVersion) WHERE v.key IN $keys RETURN v.key AS key, v.definition AS definition
"""
SET_CURSOR = """
MATCH (j:Journey {id: $id, workspace: $workspace})
SET j.cursor = datetime($cursor), j.last_occurrence = coalesce($occurrence, j.last_occurrence)
"""

# Entry. A person already in the journey is not entered again unless the re-entry rule allows it;
# the run key (journey, person, occurrence) makes a re-scan of the same window a no-op.
_ENROL_TAIL = """
WITH p, occurrence, entered_at
WHERE p.status = 'active' AND ($stages IS NULL OR p.`score.lifecycle_stage` IN $stages)
  AND ($reentry = 'every_occurrence' OR NOT EXISTS {
        MATCH (o:JourneyRun {journey_id: $jid, profile_id: p.id})
        WHERE $reentry = 'once' OR o.state = 'active' })
MERGE (r:JourneyRun {key: $jid + ':' + p.id + ':' + occurrence})
ON CREATE SET r.workspace = $workspace, r.journey_id = $jid, r.version = $version, r.profile_id = p.id,
              r.occurrence = occurrence, r.step = 0, r.state = 'active', r.entered_at = entered_at,
              r.next_at = entered_at, r.new = true
WITH r WHERE r.new
REMOVE r.new
RETURN count(r) AS entered
"""
ENROL_EVENT = """
MATCH (e:Interaction {workspace: $workspace, event: $event})
WHERE e.ts > datetime($since) AND e.ts <= datetime($now)
MATCH (p:Profile)-[:PERFORMED]->(e)
WITH p, e ORDER BY e.ts
WITH p, head(collect(e)) AS e
WITH p, e.message_id AS occurrence, e.ts AS entered_at
""" + _ENROL_TAIL
ENROL_SEGMENT = """
MATCH (p:Profile {workspace: $workspace})-[m:IN_SEGMENT]->(:Segment {id: $segment, workspace: $workspace})
WHERE m.left_at IS NULL AND m.entered_at > datetime($since) AND m.entered_at <= datetime($now)
WITH p, replace(toString(m.entered_at), ':', '') AS occurrence, datetime($now) AS entered_at
""" + _ENROL_TAIL
ENROL_BIRTH_MONTH = """
MATCH (p:Profile {workspace: $workspace, `act.birth_month`: $month})
WHERE $before IS NULL OR p.first_seen < datetime($before)
WITH p, $occurrence AS occurrence, datetime($now) AS entered_at
""" + _ENROL_TAIL

_RUN_MAP = """r {.key, .journey_id, .version, .profile_id, .occurrence, .step, .state,
       entered_at: toString(r.entered_at), wait_until: toString(r.wait_until), next_at: toString(r.next_at)}"""
DUE_RUNS = """
MATCH (r:JourneyRun {workspace: $workspace, state: 'active'}) WHERE r.next_at <= datetime($now)
  AND EXISTS { MATCH (:Journey {id: r.journey_id, status: 'active'}) }
WITH r ORDER BY r.next_at LIMIT $limit
RETURN collect(""" + _RUN_MAP + """) AS runs
"""
UPDATE_RUNS = """
UNWIND $rows AS row
MATCH (r:JourneyRun {key: row.key})
SET r.step = row.step, r.state = row.state, r.next_at = datetime(row.next_at),
    r.wait_until = CASE WHEN row.wait_until IS NULL THEN null ELSE datetime(row.wait_until) END,
    r.exit_reason = row.exit_reason, r.updated_at = datetime($now)
"""
# What conditions look at, for a batch of runs: the person's current profile (after merges), whether
# an event happened since they entered, and their lifecycle stage.
RUN_FACTS = """
UNWIND $rows AS row
MATCH (p0:Profile {id: row.profile_id, workspace: $workspace})
OPTIONAL MATCH (p0)-[:MERGED_INTO*1..]->(w:Profile) WHERE NOT (w)-[:MERGED_INTO]->()
WITH row, coalesce(w, p0) AS p
OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(p)
WITH row, p, [p.id] + collect(l.id) AS cluster
RETURN collect([row.key, p.id, p.status, p.`score.lifecycle_stage`, p.`trait.locale`,
                [ev IN row.events WHERE EXISTS {
                    MATCH (p)-[:PERFORMED]->(e:Interaction {event: ev}) WHERE e.ts >= datetime(row.entered_at) }],
                // Another run of this journey for the same person (profiles merged since), entered first.
                size(cluster) > 1 AND EXISTS {
                    MATCH (o:JourneyRun {journey_id: row.journey_id})
                    WHERE o.profile_id IN cluster AND o.key <> row.key AND o.state IN ['active', 'done']
                      AND (o.entered_at < datetime(row.entered_at)
                           OR (o.entered_at = datetime(row.entered_at) AND o.key < row.key)) }
               ]) AS facts
"""
RUN_COUNTS = """
MATCH (r:JourneyRun {journey_id: $id, workspace: $workspace})
RETURN r.state AS state, r.exit_reason AS reason, count(*) AS n
"""
SET_BIRTH_MONTHS = """
UNWIND $rows AS row
MATCH (p:Profile {id: row.id, workspace: $workspace})
SET p.`act.birth_month` = row.month
"""


class JourneyRepository(Repository):
    """Journeys, versions and runs."""

    def create(self, *, id: str, workspace: str, name: str, template: str | None, definition: str, actor: str,
               now: datetime) -> None:
        """A new journey with version 1 (draft)."""
        self._write(CREATE_JOURNEY, id=id, workspace=workspace, name=name, template=template,
                    definition=definition, actor=actor, now=now.isoformat())

    def add_version(self, *, id: str, workspace: str, name: str, definition: str, actor: str,
                    now: datetime) -> int | None:
        """A new version (None when the journey is missing)."""
        rows = self._write(ADD_VERSION, id=id, workspace=workspace, name=name, definition=definition, actor=actor,
                           now=now.isoformat())
        return int(rows[0]["version"]) if rows else None

    def publish(self, *, id: str, workspace: str, version: int, actor: str, now: datetime) -> bool:
        """Make `version` the one new entrants get; the journey becomes active."""
        return bool(self._write(PUBLISH, id=id, workspace=workspace, version=version, actor=actor,
                                now=now.isoformat()))

    def set_status(self, *, id: str, workspace: str, status: str) -> bool:
        """Pause or resume."""
        return bool(self._write(SET_STATUS, id=id, workspace=workspace, status=status))

    def get(self, *, id: str, workspace: str, version: int | None = None) -> dict[str, Any] | None:
        """A journey with one version's definition (latest by default)."""
        rows = self._read(GET, id=id, workspace=workspace, version=version)
        return _row(rows[0]) if rows else None

    def list(self, *, workspace: str, status: str | None = None) -> list[dict[str, Any]]:
        """Journeys of a workspace with their latest definitions."""
        return [_row(r) for r in self._read(LIST, workspace=workspace, status=status)]

    def active(self, *, workspace: str) -> list[dict[str, Any]]:
        """Active journeys with their published definitions."""
        return [_row(r) for r in self._read(ACTIVE, workspace=workspace)]

    def definitions(self, keys: list[str]) -> dict[str, str]:
        """Definitions of versions by key ('journey:version')."""
        return {r["key"]: r["definition"] for r in self._read(VERSIONS, keys=keys)}

    def set_cursor(self, *, id: str, workspace: str, cursor: datetime, occurrence: str | None = None) -> None:
        """Remember how far entry has scanned (and the last scheduled occurrence)."""
        self._write(SET_CURSOR, id=id, workspace=workspace, cursor=cursor.isoformat(), occurrence=occurrence)

    def enrol(self, query: str, **params: Any) -> int:
        """Run one of the ENROL_* statements; how many people entered."""
        rows = self._write(query, **params)
        return int(rows[0]["entered"]) if rows else 0

    def due_runs(self, *, workspace: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Active runs whose next step is due."""
        rows = self._read(DUE_RUNS, workspace=workspace, now=now.isoformat(), limit=limit)
        runs: list[dict[str, Any]] = rows[0]["runs"]
        for r in runs:
            r["entered_at"] = from_iso(r["entered_at"])
            r["wait_until"] = from_iso(r.get("wait_until"))
            r["next_at"] = from_iso(r.get("next_at"))
        return runs

    def update_runs(self, rows: list[dict[str, Any]], *, now: datetime) -> None:
        """Persist the runs' new step/state/next time in one transaction."""
        if rows:
            self._write(UPDATE_RUNS, rows=rows, now=now.isoformat())

    def facts(self, *, workspace: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Per run key: current profile id and status, lifecycle stage, events seen since entry."""
        if not rows:
            return {}
        found = self._read(RUN_FACTS, workspace=workspace, rows=rows)
        return {k: {"profile_id": pid, "status": status, "stage": stage, "locale": locale, "events": set(events),
                    "duplicate": bool(dup)}
                for k, pid, status, stage, locale, events, dup in found[0]["facts"]}

    def run_counts(self, *, id: str, workspace: str) -> list[dict[str, Any]]:
        """Runs by state and exit reason."""
        return [dict(r) for r in self._read(RUN_COUNTS, id=id, workspace=workspace)]

    def set_birth_months(self, *, workspace: str, rows: list[dict[str, Any]]) -> None:
        """Store birth months (1-12 only) for birthday journeys."""
        if rows:
            self._write(SET_BIRTH_MONTHS, workspace=workspace, rows=rows)


def _row(r: Any) -> dict[str, Any]:
    j = dict(r["j"])
    j["created_at"] = from_iso(j.get("created_at"))
    j["cursor"] = from_iso(j.get("cursor"))
    j["definition"] = r["definition"]
    j["version"] = r["version"]
    return j


# Dry runs: stored history replayed through a definition (read-only).
HISTORY_ENTRIES = """
MATCH (e:Interaction {workspace: $workspace, event: $event})
WHERE e.ts >= datetime($since) AND e.ts < datetime($until)
MATCH (p:Profile {status: 'active'})-[:PERFORMED]->(e)
WHERE $stages IS NULL OR p.`score.lifecycle_stage` IN $stages
WITH p, e ORDER BY e.ts LIMIT $limit
RETURN collect([p.id, toString(e.ts), p.`score.lifecycle_stage`]) AS rows
"""
HISTORY_EVENTS = """
UNWIND $ids AS pid
MATCH (p:Profile {id: pid, workspace: $workspace})-[:PERFORMED]->(e:Interaction)
WHERE e.event IN $events AND e.ts >= datetime($since)
RETURN collect([pid, e.event, toString(e.ts)]) AS rows
"""


class HistoryRepository(Repository):
    """Stored history for dry runs."""

    def entries(self, *, workspace: str, event: str, since: datetime, until: datetime, stages: list[str] | None,
                limit: int) -> list[tuple[str, datetime, str | None]]:
        """Entry events in a window: (profile id, time, lifecycle stage)."""
        rows = self._read(HISTORY_ENTRIES, workspace=workspace, event=event, since=since.isoformat(),
                          until=until.isoformat(), stages=stages, limit=limit)[0]["rows"]
        return [(pid, from_iso(ts), stage) for pid, ts, stage in rows]  # type: ignore[misc]

    def events(self, *, workspace: str, profile_ids: list[str], events: list[str],
               since: datetime) -> dict[str, list[tuple[str, datetime]]]:
        """Times of the named events per profile since a time."""
        out: dict[str, list[tuple[str, datetime]]] = {}
        if not profile_ids or not events:
            return out
        for pid, ev, ts in self._read(HISTORY_EVENTS, workspace=workspace, ids=profile_ids, events=events,
                                      since=since.isoformat())[0]["rows"]:
            out.setdefault(pid, []).append((ev, from_iso(ts)))  # type: ignore[arg-type]
        return out
