"""Reads and writes that bring a workspace stored before field encryption up to date
(`veil keys encrypt-existing`): plain PII identifier keys become blind indexes, plain PII
values get sealed. Keyset-paged, each page one write transaction; safe to run again.
"""

from __future__ import annotations

from typing import Any

import neo4j

from graph.identity import run_write

IDENTIFIER_PAGE = """
MATCH (i:Identifier {workspace: $workspace}) WHERE i.key > $after AND NOT i.type IN $plain_types
OPTIONAL MATCH (i)-[:IDENTIFIES]->(p:Profile)
RETURN i.key AS key, i.type AS type, i.value AS value, p.id AS profile
ORDER BY i.key LIMIT $limit
"""
# A blind key that already exists (the identifier came again after the upgrade and made a
# profile of its own) is not merged here: the old node gets a distinct legacy key, so no key
# holds plaintext and lookups find the newer profile.
REKEY_IDENTIFIERS = """
UNWIND $rows AS r
MATCH (i:Identifier {key: r.old})
OPTIONAL MATCH (dup:Identifier {key: r.new})
WITH i, r, dup IS NOT NULL AS taken
SET i.key = CASE WHEN taken THEN r.new + '#legacy' ELSE r.new END, i.value = r.value
RETURN count(CASE WHEN NOT taken THEN 1 END) AS done
"""
PROFILE_PAGE = """
MATCH (p:Profile {workspace: $workspace}) WHERE p.id > $after
RETURN p.id AS id, [k IN keys(p) WHERE k STARTS WITH 'trait.' | [k, p[k]]] AS traits
ORDER BY p.id LIMIT $limit
"""
SET_PROFILE_PROPS = "UNWIND $rows AS r MATCH (n:Profile {id: r.id, workspace: $workspace}) SET n += r.props"
SET_INTERACTION_PROPS = "UNWIND $rows AS r MATCH (n:Interaction {key: r.id, workspace: $workspace}) SET n += r.props"
SET_MERGE_PROPS = "UNWIND $rows AS r MATCH (n:Merge {id: r.id, workspace: $workspace}) SET n += r.props"
INTERACTION_PAGE = """
MATCH (e:Interaction {workspace: $workspace}) WHERE e.key > $after
OPTIONAL MATCH (p:Profile)-[:PERFORMED]->(e)
RETURN e.key AS id, p.id AS profile, e {.ident, .properties, .context, .page_url, .referrer} AS props
ORDER BY e.key LIMIT $limit
"""
MERGE_PAGE = """
MATCH (m:Merge {workspace: $workspace}) WHERE m.id > $after
RETURN m.id AS id, m.loser AS loser, m.loser_traits AS loser_traits, m.moved_identifiers AS moved
ORDER BY m.id LIMIT $limit
"""
CONFLICTS = """
MATCH (c:IdentityConflict {workspace: $workspace}) WHERE c.identifier IS NOT NULL AND NOT c.identifier CONTAINS '|~'
RETURN elementId(c) AS id, c.identifier AS identifier
"""
SET_CONFLICT_IDENTIFIERS = """
UNWIND $rows AS r
MATCH (c:IdentityConflict) WHERE elementId(c) = r.id
SET c.identifier = r.identifier
"""
_BY_LABEL = {"Profile": (PROFILE_PAGE, SET_PROFILE_PROPS), "Interaction": (INTERACTION_PAGE, SET_INTERACTION_PROPS),
             "Merge": (MERGE_PAGE, SET_MERGE_PROPS)}


class UpgradeRepository:
    """Pages of one workspace's nodes and their updates."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def _read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        records, _, _ = self.driver.execute_query(query, params, database_=self.database,
                                                  routing_=neo4j.RoutingControl.READ)
        return [dict(r) for r in records]

    def identifier_page(self, *, workspace: str, plain_types: list[str], after: str, limit: int) -> list[dict]:
        """Identifiers of types that are not plain (PII), after a key."""
        return self._read(IDENTIFIER_PAGE, workspace=workspace, plain_types=plain_types, after=after, limit=limit)

    def rekey_identifiers(self, rows: list[dict[str, Any]]) -> int:
        """Move identifiers to their blind keys with sealed values; returns how many moved."""
        if not rows:
            return 0

        def work(tx: neo4j.ManagedTransaction) -> int:
            rec = tx.run(REKEY_IDENTIFIERS, rows=rows).single()
            return int(rec["done"]) if rec else 0

        return run_write(self.driver, self.database, work)

    def page(self, label: str, *, workspace: str, after: str, limit: int) -> list[dict]:
        """A page of Profile, Interaction or Merge rows."""
        return self._read(_BY_LABEL[label][0], workspace=workspace, after=after, limit=limit)

    def set_props(self, label: str, *, workspace: str, rows: list[dict[str, Any]]) -> None:
        """`SET n += props` for rows of {id, props}."""
        if not rows:
            return
        query = _BY_LABEL[label][1]
        run_write(self.driver, self.database,
                  lambda tx: tx.run(query, rows=rows, workspace=workspace).consume())

    def conflicts(self, *, workspace: str) -> list[dict]:
        """Conflicts that still name a plain identifier key."""
        return self._read(CONFLICTS, workspace=workspace)

    def set_conflict_identifiers(self, rows: list[dict[str, Any]]) -> None:
        """Rewrite conflict identifier keys."""
        if rows:
            run_write(self.driver, self.database,
                      lambda tx: tx.run(SET_CONFLICT_IDENTIFIERS, rows=rows).consume())
