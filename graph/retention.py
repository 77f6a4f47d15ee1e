"""Retention purge: count and delete expired interactions in batches (one transaction each)."""

from __future__ import annotations

from datetime import datetime

import neo4j

# Interactions of a type older than the cutoff, except events that have a rule of their own.
_TYPE_MATCH = """
MATCH (e:Interaction {workspace: $workspace})
WHERE e.ts < $cutoff AND e.type = $type AND (e.event IS NULL OR NOT e.event IN $exempt)
"""
_EVENT_MATCH = """
MATCH (e:Interaction {workspace: $workspace})
WHERE e.ts < $cutoff AND e.event = $event
"""
COUNT_TYPE = _TYPE_MATCH + "RETURN count(e) AS n"
COUNT_EVENT = _EVENT_MATCH + "RETURN count(e) AS n"
# DETACH DELETE drops PERFORMED and CONTAINS; products and profiles stay.
DELETE_TYPE = _TYPE_MATCH + "WITH e LIMIT $batch DETACH DELETE e RETURN count(*) AS n"
DELETE_EVENT = _EVENT_MATCH + "WITH e LIMIT $batch DETACH DELETE e RETURN count(*) AS n"


class RetentionRepository:
    """Counts and deletes expired interactions of one workspace."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def count(self, *, workspace: str, cutoff: datetime, type: str | None = None, event: str | None = None,
              exempt: list[str] | None = None) -> int:
        """Interactions a rule would delete now."""
        query = COUNT_EVENT if event is not None else COUNT_TYPE
        records, _, _ = self.driver.execute_query(
            query, workspace=workspace, cutoff=cutoff, type=type, event=event, exempt=exempt or [],
            database_=self.database, routing_=neo4j.RoutingControl.READ)
        return int(records[0]["n"])

    def delete_batch(self, *, workspace: str, cutoff: datetime, batch: int, type: str | None = None,
                     event: str | None = None, exempt: list[str] | None = None) -> int:
        """Delete up to `batch` expired interactions in one transaction; returns how many."""
        query = DELETE_EVENT if event is not None else DELETE_TYPE
        records, _, _ = self.driver.execute_query(
            query, workspace=workspace, cutoff=cutoff, type=type, event=event, exempt=exempt or [], batch=batch,
            database_=self.database)
        return int(records[0]["n"])
