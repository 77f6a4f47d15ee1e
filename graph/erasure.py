"""Erasure and suppression in the graph: find a person's merged cluster, purge it, keep a
suppression list of their identifiers' blind indexes.

The PII itself is made unreadable by shredding data keys (privacy/erasure.py); these statements
remove what is left in the live graph: sealed values, identifiers, interactions, segment
memberships, merge snapshots and conflict keys. Everything runs in one write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j

from graph.identity import run_write

# Trait property keys are data-dependent, so they are read first and cleared with a map of nulls.
# The cluster of a person: the root profile the given id ends up in, and every profile merged into it.
CLUSTER = """
MATCH (start:Profile {id: $id, workspace: $workspace})
MATCH (start)-[:MERGED_INTO*0..]->(root:Profile) WHERE NOT (root)-[:MERGED_INTO]->()
OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(root)
WITH root, collect(DISTINCT l.id) AS losers
OPTIONAL MATCH (x:Identifier)-[:IDENTIFIES]->(m:Profile) WHERE m.id = root.id OR m.id IN losers
RETURN root.id AS root, root.status AS status, losers, collect(DISTINCT x.key) AS keys
"""

SUPPRESS = """
UNWIND $keys AS k
MERGE (s:Suppression {key: k})
ON CREATE SET s.workspace = $workspace, s.at = $now
"""

PURGE = """
MATCH (p:Profile {workspace: $workspace}) WHERE p.id IN $ids
CALL (p) {
  OPTIONAL MATCH (p)<-[:IDENTIFIES]-(x:Identifier)
  WITH collect(DISTINCT x) AS xs
  FOREACH (x IN xs | DETACH DELETE x)
  RETURN size(xs) AS identifiers
}
CALL (p) {
  OPTIONAL MATCH (p)-[:PERFORMED]->(e:Interaction)
  WITH collect(DISTINCT e) AS es
  FOREACH (e IN es | DETACH DELETE e)
  RETURN size(es) AS interactions
}
CALL (p) {
  OPTIONAL MATCH (p)-[m:IN_SEGMENT]->(:Segment)
  WITH collect(m) AS ms
  FOREACH (m IN ms | DELETE m)
  RETURN size(ms) AS memberships
}
SET p.status = 'erased', p.erased_at = $now
RETURN sum(identifiers) AS identifiers, sum(interactions) AS interactions, sum(memberships) AS memberships
"""

SCRUB_LEDGER = """
CALL () {
  MATCH (g:Merge {workspace: $workspace}) WHERE g.loser IN $ids OR g.winner IN $ids
  SET g.loser_traits = null, g.moved_identifiers = [], g.erased_at = $now
  RETURN count(g) AS merges
}
CALL () {
  MATCH (c:IdentityConflict {workspace: $workspace}) WHERE any(x IN c.profiles WHERE x IN $ids)
  SET c.identifier = null
  RETURN count(c) AS conflicts
}
RETURN merges, conflicts
"""

TRAIT_KEYS = """
MATCH (p:Profile {workspace: $workspace}) WHERE p.id IN $ids
RETURN p.id AS id, [k IN keys(p) WHERE k STARTS WITH 'trait.' OR k IN ['trait_meta', 'locked_at']] AS keys
"""

CLEAR_PROPERTIES = """
UNWIND $rows AS r
MATCH (p:Profile {id: r.id})
SET p += r.nulls
"""

SUPPRESSED = "MATCH (s:Suppression) WHERE s.key IN $keys RETURN collect(s.key) AS keys"


@dataclass(frozen=True)
class Cluster:
    """A person in the graph: the root profile, the profiles merged into it, their identifier keys."""

    root: str
    status: str
    profile_ids: tuple[str, ...]
    identifier_keys: tuple[str, ...]


@dataclass(frozen=True)
class PurgeCounts:
    """What the graph purge removed."""

    identifiers: int
    interactions: int
    memberships: int
    merges: int
    conflicts: int


class ErasureRepository:
    """Reads and writes of erasure and the suppression list."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def cluster(self, *, workspace: str, profile_id: str) -> Cluster | None:
        """The person's cluster, or None when the profile is not in this workspace."""
        records, _, _ = self.driver.execute_query(CLUSTER, id=profile_id, workspace=workspace,
                                                  database_=self.database, routing_=neo4j.RoutingControl.READ)
        if not records:
            return None
        r = records[0]
        return Cluster(root=r["root"], status=r["status"], profile_ids=(r["root"], *sorted(r["losers"])),
                       identifier_keys=tuple(sorted(r["keys"])))

    def purge(self, *, workspace: str, cluster: Cluster, suppress: bool) -> PurgeCounts:
        """Suppress (optionally) and delete the cluster's identifiers, interactions, memberships and
        trait properties; mark its profiles erased; scrub the merge ledger and conflicts."""
        ids = list(cluster.profile_ids)

        def work(tx: neo4j.ManagedTransaction) -> PurgeCounts:
            now = datetime.now(UTC)
            if suppress and cluster.identifier_keys:
                tx.run(SUPPRESS, keys=list(cluster.identifier_keys), workspace=workspace, now=now).consume()
            rows = [{"id": r["id"], "nulls": dict.fromkeys(r["keys"])}
                    for r in tx.run(TRAIT_KEYS, workspace=workspace, ids=ids)]
            tx.run(CLEAR_PROPERTIES, rows=rows).consume()
            rec = tx.run(PURGE, workspace=workspace, ids=ids, now=now).single()
            led = tx.run(SCRUB_LEDGER, workspace=workspace, ids=ids, now=now).single()
            return PurgeCounts(identifiers=int(rec["identifiers"] or 0) if rec else 0,
                               interactions=int(rec["interactions"] or 0) if rec else 0,
                               memberships=int(rec["memberships"] or 0) if rec else 0,
                               merges=int(led["merges"]) if led else 0, conflicts=int(led["conflicts"]) if led else 0)

        return run_write(self.driver, self.database, work)

    def suppressed(self, keys: list[str]) -> set[str]:
        """Which of these identifier keys belong to erased people."""
        if not keys:
            return set()
        records, _, _ = self.driver.execute_query(SUPPRESSED, keys=keys, database_=self.database,
                                                  routing_=neo4j.RoutingControl.READ)
        return set(records[0]["keys"])
