"""Probabilistic identity resolution in Neo4j: review queue, runs, settings and evidence-carrying merges.

All Cypher is here as named constants. A probabilistic merge reuses the deterministic write
path's MERGE_PROFILES statement (identifiers and interactions move, a `Merge` ledger entry is
written), so `ProfileRepository.undo_merge` undoes it like any other merge; this module adds
the evidence, the identifier-limit check, the restriction flag and trait fill-in around it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j

from graph import identity_cypher
from graph.driver import Repository, from_iso
from graph.identity import TRAIT_PREFIX

SCHEMA = (
    "CREATE CONSTRAINT match_candidate_key IF NOT EXISTS FOR (c:MatchCandidate) REQUIRE c.key IS UNIQUE",
    "CREATE CONSTRAINT match_candidate_id IF NOT EXISTS FOR (c:MatchCandidate) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT match_run_id IF NOT EXISTS FOR (r:MatchRun) REQUIRE r.id IS UNIQUE",
    "CREATE CONSTRAINT match_config_ws IF NOT EXISTS FOR (m:MatchConfig) REQUIRE m.workspace IS UNIQUE",
    "CREATE INDEX match_candidate_status IF NOT EXISTS FOR (c:MatchCandidate) ON (c.workspace, c.status)",
    "CREATE INDEX profile_updated IF NOT EXISTS FOR (p:Profile) ON (p.workspace, p.updated_at)",
)
GET_CONFIG = """
MATCH (m:MatchConfig {workspace: $workspace})
RETURN m {.auto_merge, .review, .model, .last_run_at, .last_run_id} AS m
"""
SET_THRESHOLDS = """
MERGE (m:MatchConfig {workspace: $workspace})
SET m.auto_merge = $auto_merge, m.review = $review, m.updated_at = $now, m.updated_by = $actor
"""
SAVE_RUN = """
MERGE (m:MatchConfig {workspace: $workspace})
SET m.model = coalesce($model, m.model), m.last_run_at = $started, m.last_run_id = $id
CREATE (:MatchRun {id: $id, workspace: $workspace, mode: $mode, actor: $actor, started_at: $started,
                   finished_at: $now, profiles: $profiles, pairs: $pairs, merged: $merged, queued: $queued,
                   blocked: $blocked})
"""
TOUCHED_SINCE = """
MATCH (p:Profile {workspace: $workspace, status: 'active'}) WHERE p.updated_at >= $since
RETURN collect(p.id) AS ids
"""
# Decided review items, and probabilistic merges undone by any path (`veil profiles unmerge` too).
DECIDED_PAIRS = """
CALL () {
  MATCH (c:MatchCandidate {workspace: $workspace}) WHERE c.status <> 'pending'
  RETURN collect(c.key) AS keys
}
CALL () {
  MATCH (g:Merge {workspace: $workspace, rule: 'probabilistic'}) WHERE g.undone_at IS NOT NULL
  RETURN collect([g.winner, g.loser]) AS undone
}
RETURN keys, undone
"""
UPSERT_CANDIDATES = """
UNWIND $rows AS r
MERGE (c:MatchCandidate {key: r.key})
ON CREATE SET c.id = r.id, c.workspace = $workspace, c.left = r.left, c.right = r.right, c.status = 'pending',
              c.created_at = $now
WITH c, r WHERE c.status = 'pending'
SET c.probability = r.probability, c.weight = r.weight, c.evidence = r.evidence, c.run_id = $run_id,
    c.conflicts = r.conflicts, c.updated_at = $now
"""
_CANDIDATE_MAP = """c {.id, .left, .right, .status, .probability, .weight, .evidence, .conflicts, .run_id,
    .decided_by, .merge_id, .reason, created_at: toString(c.created_at), decided_at: toString(c.decided_at)}"""
LIST_CANDIDATES = """
MATCH (c:MatchCandidate {workspace: $workspace, status: $status})
WITH c ORDER BY c.probability DESC, c.id LIMIT $limit
RETURN collect(""" + _CANDIDATE_MAP + """) AS rows
"""
GET_CANDIDATE = """
MATCH (c:MatchCandidate {id: $id, workspace: $workspace})
RETURN """ + _CANDIDATE_MAP + """ AS c
"""
CANDIDATE_FOR_MERGE = """
MATCH (c:MatchCandidate {workspace: $workspace, merge_id: $merge_id})
RETURN c.id AS id
"""
DECIDE_CANDIDATE = """
MATCH (c:MatchCandidate {id: $id, workspace: $workspace})
SET c.status = $status, c.decided_by = $actor, c.decided_at = $now, c.reason = $reason,
    c.merge_id = coalesce($merge_id, c.merge_id)
"""
# The profiles of a batch of merges, write-locked (sorted ids): status, restriction, traits and limited identifier counts (types only).
LOCK_PAIR = """
UNWIND $ids AS pid
MATCH (p:Profile {id: pid, workspace: $workspace})
SET p.locked_at = $now
WITH p
OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
WITH p, i.type AS t, count(i) AS n
WITH p, collect([t, n]) AS counts
RETURN collect({id: p.id, status: p.status, restricted: coalesce(p.restricted, false),
                first_seen: toString(p.first_seen), meta: p.trait_meta, counts: counts,
                traits: [k IN keys(p) WHERE k STARTS WITH 'trait.' | [k, p[k]]]}) AS profiles
"""
MARK_MERGES = """
UNWIND $rows AS r
MATCH (g:Merge {id: r.merge_id}), (w:Profile {id: r.winner})
SET g.probability = r.probability, g.match_weight = r.weight, g.evidence = r.evidence, g.candidate = r.candidate,
    g.actor = r.actor, g.copied_traits = r.copied, g.winner_restricted_before = r.winner_restricted,
    w += r.props, w.trait_meta = r.meta, w.restricted = r.restricted, w.updated_at = $now
"""# A pair that must never be proposed again (a merge of it was undone): create or update its item.
REJECT_PAIR = """
MERGE (c:MatchCandidate {key: $key})
ON CREATE SET c.id = $id, c.workspace = $workspace, c.left = $left, c.right = $right, c.created_at = $now,
              c.probability = $probability, c.weight = $weight, c.evidence = $evidence, c.conflicts = []
SET c.status = 'rejected', c.decided_by = $actor, c.decided_at = $now, c.reason = $reason, c.merge_id = $merge_id
"""
ROOTS = """
UNWIND $ids AS pid
MATCH (p:Profile {id: pid, workspace: $workspace})
OPTIONAL MATCH (p)-[:MERGED_INTO*1..]->(r:Profile) WHERE NOT (r)-[:MERGED_INTO]->()
RETURN collect([pid, coalesce(r.id, p.id)]) AS roots
"""
MERGE_INFO = """
MATCH (g:Merge {id: $merge_id, workspace: $workspace})
RETURN g {.id, .loser, .winner, .rule, .probability, .match_weight, .evidence, .candidate, .actor,
          .copied_traits, .winner_restricted_before, .undone_at, at: toString(g.at)} AS g
"""
# After the generic undo: take back copied traits still holding the copied value. A restriction
# is never lifted by an undo (it may have been requested for the merged person): one on the
# winner now also covers the split-off profile.
AFTER_UNDO = """
MATCH (g:Merge {id: $merge_id, workspace: $workspace}), (w:Profile {id: g.winner}), (l:Profile {id: g.loser})
SET l.restricted = CASE WHEN coalesce(w.restricted, false) THEN true ELSE l.restricted END
WITH g, w, l
UNWIND coalesce(g.copied_traits, []) AS k
WITH w, l, k WHERE w[k] = l[k]
REMOVE w[k]
"""


@dataclass(frozen=True)
class Candidate:
    """A pair in the review queue (or decided)."""

    id: str
    left: str
    right: str
    status: str
    probability: float
    weight: float
    evidence: list[list[Any]]
    conflicts: list[str]
    run_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    merge_id: str | None
    reason: str | None
    created_at: datetime | None


@dataclass
class _Locked:
    """A profile as read under lock for merges (updated in memory as the batch merges)."""

    id: str
    status: str
    restricted: bool
    first_seen: str
    counts: dict[str, int]
    traits: dict[str, Any]
    meta: dict[str, Any]

    @staticmethod
    def of(p: dict[str, Any]) -> _Locked:
        return _Locked(id=p["id"], status=p["status"], restricted=bool(p["restricted"]),
                       first_seen=p.get("first_seen") or "~", counts={t: int(n) for t, n in p["counts"] if t},
                       traits=dict(p["traits"]), meta=json.loads(p["meta"]) if p.get("meta") else {})


@dataclass(frozen=True)
class MergeEvidence:
    """What a probabilistic merge records next to the ledger entry."""

    probability: float
    weight: float
    evidence: str  # JSON [[comparison, level, weight], ...]
    candidate: str | None
    actor: str


@dataclass(frozen=True)
class MergeRequest:
    """Merge two profiles (which one survives is decided under lock)."""

    merge_id: str
    a: str
    b: str
    evidence: MergeEvidence


@dataclass(frozen=True)
class MergeResult:
    """What happened to a MergeRequest: `reason` is None when merged."""

    merge_id: str
    winner: str
    loser: str
    reason: str | None


def pair_key(workspace: str, a: str, b: str) -> str:
    """The order-free key of a pair of profiles."""
    lo, hi = sorted((a, b))
    return f"{workspace}|{lo}|{hi}"


def _candidate(c: dict[str, Any]) -> Candidate:
    return Candidate(
        id=c["id"], left=c["left"], right=c["right"], status=c["status"], probability=float(c["probability"] or 0),
        weight=float(c["weight"] or 0), evidence=json.loads(c["evidence"]) if c.get("evidence") else [],
        conflicts=list(c.get("conflicts") or []), run_id=c.get("run_id"), decided_by=c.get("decided_by"),
        decided_at=from_iso(c.get("decided_at")), merge_id=c.get("merge_id"), reason=c.get("reason"),
        created_at=from_iso(c.get("created_at")))


class ResolutionRepository(Repository):
    """Reads and writes of the matching job, all scoped by workspace."""

    _schema_ready = False

    def ensure_schema(self) -> None:
        """Create this module's constraints and indexes (idempotent)."""
        if ResolutionRepository._schema_ready:
            return
        for stmt in SCHEMA:
            self._write(stmt)
        ResolutionRepository._schema_ready = True

    def config(self, *, workspace: str) -> dict[str, Any]:
        """Thresholds, stored model and last run of a workspace ({} when none)."""
        rows = self._read(GET_CONFIG, workspace=workspace)
        return dict(rows[0]["m"]) if rows else {}

    def set_thresholds(self, *, workspace: str, auto_merge: float, review: float, actor: str) -> None:
        """Store the workspace's thresholds."""
        self._write(SET_THRESHOLDS, workspace=workspace, auto_merge=auto_merge, review=review,
                    now=datetime.now(UTC), actor=actor)

    def save_run(self, *, workspace: str, run_id: str, mode: str, actor: str, started: datetime,
                 model: str | None, counts: dict[str, int]) -> None:
        """Record a finished run (and the model it trained)."""
        self._write(SAVE_RUN, workspace=workspace, id=run_id, mode=mode, actor=actor, started=started,
                    now=datetime.now(UTC), model=model, profiles=counts.get("profiles", 0),
                    pairs=counts.get("pairs", 0), merged=counts.get("merged", 0), queued=counts.get("queued", 0),
                    blocked=counts.get("blocked", 0))

    def touched_since(self, *, workspace: str, since: datetime) -> list[str]:
        """Active profiles written since a time."""
        return list(self._read(TOUCHED_SINCE, workspace=workspace, since=since)[0]["ids"])

    def decided_pairs(self, *, workspace: str) -> set[str]:
        """Keys of pairs a steward (or an earlier run) already decided: never proposed again."""
        row = self._read(DECIDED_PAIRS, workspace=workspace)[0]
        return set(row["keys"]) | {pair_key(workspace, a, b) for a, b in row["undone"]}

    def queue(self, *, workspace: str, run_id: str, rows: list[dict[str, Any]]) -> None:
        """Add or refresh pending review items (decided ones are left alone)."""
        for i in range(0, len(rows), 5000):
            self._write(UPSERT_CANDIDATES, workspace=workspace, run_id=run_id, rows=rows[i:i + 5000],
                        now=datetime.now(UTC))

    def candidates(self, *, workspace: str, status: str, limit: int) -> list[Candidate]:
        """Review items by status, most probable first."""
        rows = self._read(LIST_CANDIDATES, workspace=workspace, status=status, limit=limit)
        return [_candidate(c) for c in rows[0]["rows"]]

    def candidate(self, *, workspace: str, candidate_id: str) -> Candidate | None:
        """One review item, or None (also for another workspace's)."""
        rows = self._read(GET_CANDIDATE, workspace=workspace, id=candidate_id)
        return _candidate(rows[0]["c"]) if rows else None

    def candidate_for_merge(self, *, workspace: str, merge_id: str) -> str | None:
        """The review item a merge came from, if any."""
        rows = self._read(CANDIDATE_FOR_MERGE, workspace=workspace, merge_id=merge_id)
        return rows[0]["id"] if rows else None

    def decide(self, *, workspace: str, candidate_id: str, status: str, actor: str, reason: str | None = None,
               merge_id: str | None = None) -> None:
        """Record a decision on a review item."""
        self._write(DECIDE_CANDIDATE, workspace=workspace, id=candidate_id, status=status, actor=actor,
                    now=datetime.now(UTC), reason=reason, merge_id=merge_id)

    def reject_pair(self, *, workspace: str, left: str, right: str, actor: str, reason: str, merge_id: str,
                    probability: float, weight: float, evidence: str) -> None:
        """Remember a pair as rejected (creating its review item if it had none)."""
        lo, hi = sorted((left, right))
        self._write(REJECT_PAIR, key=pair_key(workspace, lo, hi), id=str(uuid.uuid4()), workspace=workspace,
                    left=lo, right=hi, now=datetime.now(UTC), probability=probability, weight=weight,
                    evidence=evidence, actor=actor, reason=reason, merge_id=merge_id)

    def roots(self, *, workspace: str, ids: list[str]) -> dict[str, str]:
        """The profile each id now lives in (itself, or the profile it was merged into)."""
        rows = self._read(ROOTS, workspace=workspace, ids=ids)
        return {a: b for a, b in rows[0]["roots"]} if rows else {}

    def merge_info(self, *, workspace: str, merge_id: str) -> dict[str, Any] | None:
        """A merge ledger entry with its evidence (None when unknown here)."""
        rows = self._read(MERGE_INFO, workspace=workspace, merge_id=merge_id)
        if not rows:
            return None
        g = dict(rows[0]["g"])
        g["evidence"] = json.loads(g["evidence"]) if g.get("evidence") else []
        return g

    def after_undo(self, *, workspace: str, merge_id: str) -> None:
        """Finish undoing a probabilistic merge (copied traits, restriction flag)."""
        self._write(AFTER_UNDO, workspace=workspace, merge_id=merge_id)

    def merge_batch(self, *, workspace: str, run_id: str, requests: list[MergeRequest],
                    limits: dict[str, int]) -> list[MergeResult]:
        """Apply merges in order in one transaction (UNWIND). The profile seen first survives; a
        merge that a limit forbids, or whose profile is no longer active, is skipped with a reason."""

        def work(tx: neo4j.ManagedTransaction) -> list[MergeResult]:
            now = datetime.now(UTC)
            ids = sorted({x for r in requests for x in (r.a, r.b)})
            rec = tx.run(LOCK_PAIR, ids=ids, workspace=workspace, now=now).single()
            state = {p["id"]: _Locked.of(p) for p in (rec["profiles"] if rec else [])}
            parent: dict[str, str] = {}

            def find(x: str) -> str:
                while x in parent:
                    x = parent[x]
                return x

            results, rows, marks = [], [], []
            for r in requests:
                a, b = find(r.a), find(r.b)
                sa, sb = state.get(a), state.get(b)
                if a == b or sa is None or sb is None or sa.status != "active" or sb.status != "active":
                    results.append(MergeResult(r.merge_id, a, b, "not_active"))
                    continue
                w, lo = (sa, sb) if (sa.first_seen, sa.id) <= (sb.first_seen, sb.id) else (sb, sa)
                broken = next((k for k, lim in limits.items()
                               if w.counts.get(k, 0) + lo.counts.get(k, 0) > lim), None)
                if broken:
                    results.append(MergeResult(r.merge_id, w.id, lo.id, f"max_per_profile:{broken}"))
                    continue
                # The winner keeps its own values; traits it lacks are copied, still sealed under the
                # loser's key (a value keeps its key id when a merge moves it).
                copied = sorted(k for k in lo.traits if k not in w.traits)
                for k in copied:
                    w.traits[k] = lo.traits[k]
                    name = k[len(TRAIT_PREFIX):]
                    if name in lo.meta:
                        w.meta[name] = lo.meta[name]
                for k, n in lo.counts.items():
                    w.counts[k] = w.counts.get(k, 0) + n
                was = w.restricted
                w.restricted = w.restricted or lo.restricted
                lo.status, parent[lo.id] = "merged", w.id
                rows.append({"loser": lo.id, "winner": w.id, "merge_id": r.merge_id, "rule": "probabilistic",
                             "message_id": f"match-run:{run_id}", "at": now.isoformat(), "loser_traits": None})
                e = r.evidence
                marks.append({"merge_id": r.merge_id, "winner": w.id, "probability": e.probability,
                              "weight": e.weight, "evidence": e.evidence, "candidate": e.candidate, "actor": e.actor,
                              "copied": copied, "winner_restricted": was, "restricted": w.restricted,
                              "props": {k: lo.traits[k] for k in copied}, "meta": json.dumps(w.meta, default=str)})
                results.append(MergeResult(r.merge_id, w.id, lo.id, None))
            for row in rows:
                row["root"] = find(row["winner"])
            if rows:
                tx.run(identity_cypher.MERGE_PROFILES, workspace=workspace, source="identity-resolution", now=now,
                       rows=rows).consume()
                tx.run(MARK_MERGES, rows=marks, now=now).consume()
            return results

        with self.driver.session(database=self.database) as session:
            return session.execute_write(work)
