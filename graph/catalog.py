"""The trait catalog: per workspace, each trait / event-property key and its PII category.

`(:CatalogEntry {id: 'workspace|scope|key', workspace, scope, key, category, sensitivity,
decided_by, decided_at, actor})`. Automatic classifications are inserted once (ON CREATE), so
concurrent ingesting workers never overwrite each other or an admin's override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from graph.driver import to_native

INSERT_IF_ABSENT = """
UNWIND $rows AS r
MERGE (c:CatalogEntry {id: r.id})
ON CREATE SET c.workspace = $workspace, c.scope = r.scope, c.key = r.key, c.category = r.category,
              c.sensitivity = r.sensitivity, c.decided_by = r.decided_by, c.decided_at = $now, c.actor = r.actor
RETURN c {.*} AS c
"""
SET_OVERRIDE = """
MERGE (c:CatalogEntry {id: $id})
ON CREATE SET c.workspace = $workspace, c.scope = $scope, c.key = $key
WITH c, c.category AS previous
SET c.category = $category, c.sensitivity = $sensitivity, c.decided_by = 'admin', c.decided_at = $now,
    c.actor = $actor
RETURN c {.*} AS c, previous
"""
LIST_ENTRIES = """
MATCH (c:CatalogEntry {workspace: $workspace})
WHERE $scope IS NULL OR c.scope = $scope
RETURN c {.*} AS c
ORDER BY c.scope, c.key
"""


@dataclass(frozen=True)
class CatalogEntry:
    """One classified key."""

    workspace: str
    scope: str  # "trait" or "property"
    key: str
    category: str
    sensitivity: str
    decided_by: str  # "name", "sampled_values" or "admin"
    decided_at: datetime | None
    actor: str | None


def entry_id(workspace: str, scope: str, key: str) -> str:
    """The unique id of a catalog entry."""
    return f"{workspace}|{scope}|{key}"


def _entry(c: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(workspace=c["workspace"], scope=c["scope"], key=c["key"], category=c["category"],
                        sensitivity=c["sensitivity"], decided_by=c["decided_by"],
                        decided_at=to_native(c.get("decided_at")), actor=c.get("actor"))


class CatalogRepository:
    """Reads and writes catalog entries; every query is scoped by workspace."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def entries(self, *, workspace: str, scope: str | None = None) -> list[CatalogEntry]:
        """Every entry of a workspace (optionally one scope), by scope and key."""
        records, _, _ = self.driver.execute_query(LIST_ENTRIES, workspace=workspace, scope=scope,
                                                  database_=self.database, routing_=neo4j.RoutingControl.READ)
        return [_entry(r["c"]) for r in records]

    def insert_if_absent(self, *, workspace: str, rows: list[dict[str, Any]], now: datetime) -> list[CatalogEntry]:
        """Store new classifications; returns what is stored (an earlier decision wins)."""
        for r in rows:
            r["id"] = entry_id(workspace, r["scope"], r["key"])
        records, _, _ = self.driver.execute_query(INSERT_IF_ABSENT, workspace=workspace, rows=rows, now=now,
                                                  database_=self.database)
        return [_entry(r["c"]) for r in records]

    def set_override(self, *, workspace: str, scope: str, key: str, category: str, sensitivity: str,
                     actor: str, now: datetime) -> tuple[CatalogEntry, str | None]:
        """An admin's decision for a key; returns the entry and the previous category."""
        records, _, _ = self.driver.execute_query(
            SET_OVERRIDE, id=entry_id(workspace, scope, key), workspace=workspace, scope=scope, key=key,
            category=category, sensitivity=sensitivity, actor=actor, now=now, database_=self.database)
        return _entry(records[0]["c"]), records[0]["previous"]
