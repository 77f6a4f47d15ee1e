"""Workspaces and sources (write keys are stored only as SHA-256 hashes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j

ENSURE_WORKSPACE = """
MERGE (w:Workspace {id: $workspace})
ON CREATE SET w.name = $name, w.created_at = $now
RETURN w.id AS id
"""
CREATE_SOURCE = """
MATCH (w:Workspace {id: $workspace})
CREATE (s:Source {id: $id, workspace: $workspace, name: $name, kind: $kind,
                  key_hash: $key_hash, key_prefix: $key_prefix, created_at: $now, disabled: false})
CREATE (w)-[:HAS_SOURCE]->(s)
RETURN s.id AS id
"""
SOURCE_BY_HASH = """
MATCH (s:Source {key_hash: $key_hash})
RETURN s.id AS id, s.workspace AS workspace, s.name AS name, s.kind AS kind, s.disabled AS disabled,
       coalesce(s.allowed_origins, []) AS allowed_origins
"""
LIST_SOURCES = """
MATCH (s:Source) WHERE $workspace IS NULL OR s.workspace = $workspace
RETURN s.id AS id, s.workspace AS workspace, s.name AS name, s.kind AS kind,
       s.disabled AS disabled, s.key_prefix AS key_prefix, coalesce(s.allowed_origins, []) AS allowed_origins
ORDER BY s.workspace, s.name
"""
DISABLE_SOURCE = "MATCH (s:Source {id: $id}) SET s.disabled = true RETURN s.id AS id"
SET_ALLOWED_ORIGINS = """
MATCH (s:Source {id: $id}) WHERE $workspace IS NULL OR s.workspace = $workspace
SET s.allowed_origins = $origins
RETURN s.id AS id
"""
ALL_ALLOWED_ORIGINS = """
MATCH (s:Source) WHERE s.allowed_origins IS NOT NULL AND NOT coalesce(s.disabled, false)
UNWIND s.allowed_origins AS origin
RETURN DISTINCT origin
"""


@dataclass(frozen=True)
class SourceRecord:
    """A collection source: one write key, one workspace."""

    id: str
    workspace: str
    name: str
    kind: str
    disabled: bool
    key_prefix: str = ""
    allowed_origins: tuple[str, ...] = ()  # browser origins (CORS) allowed to send with this key


class SourceRepository:
    """Reads and writes of workspaces and sources."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def ensure_workspace(self, *, workspace: str, name: str | None = None) -> str:
        """Create the workspace if missing."""
        self.driver.execute_query(
            ENSURE_WORKSPACE, workspace=workspace, name=name or workspace,
            now=datetime.now(UTC), database_=self.database,
        )
        return workspace

    def create_source(
        self, *, source_id: str, workspace: str, name: str, kind: str, key_hash: str, key_prefix: str
    ) -> None:
        """Store a new source with its hashed write key."""
        self.ensure_workspace(workspace=workspace)
        self.driver.execute_query(
            CREATE_SOURCE, id=source_id, workspace=workspace, name=name, kind=kind,
            key_hash=key_hash, key_prefix=key_prefix, now=datetime.now(UTC), database_=self.database,
        )

    def get_by_key_hash(self, key_hash: str) -> SourceRecord | None:
        """The source owning this key hash, or None."""
        records, _, _ = self.driver.execute_query(
            SOURCE_BY_HASH, key_hash=key_hash, database_=self.database,
            routing_=neo4j.RoutingControl.READ,
        )
        if not records:
            return None
        r = records[0]
        return SourceRecord(r["id"], r["workspace"], r["name"], r["kind"], bool(r["disabled"]),
                            allowed_origins=tuple(r["allowed_origins"]))

    def list_sources(self, *, workspace: str | None = None) -> list[SourceRecord]:
        """All sources, optionally of one workspace."""
        records, _, _ = self.driver.execute_query(
            LIST_SOURCES, workspace=workspace, database_=self.database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [
            SourceRecord(r["id"], r["workspace"], r["name"], r["kind"], bool(r["disabled"]), r["key_prefix"] or "",
                         tuple(r["allowed_origins"]))
            for r in records
        ]

    def disable(self, *, source_id: str) -> bool:
        """Revoke a source's write key."""
        records, _, _ = self.driver.execute_query(DISABLE_SOURCE, id=source_id, database_=self.database)
        return bool(records)

    def set_allowed_origins(self, *, source_id: str, origins: list[str], workspace: str | None = None) -> bool:
        """Replace the browser origins allowed to send events with this source's key."""
        records, _, _ = self.driver.execute_query(SET_ALLOWED_ORIGINS, id=source_id, workspace=workspace,
                                                  origins=origins, database_=self.database)
        return bool(records)

    def all_allowed_origins(self) -> set[str]:
        """Every origin some enabled source allows (answers CORS preflights, which carry no key)."""
        records, _, _ = self.driver.execute_query(
            ALL_ALLOWED_ORIGINS, database_=self.database, routing_=neo4j.RoutingControl.READ)
        return {r["origin"] for r in records}
