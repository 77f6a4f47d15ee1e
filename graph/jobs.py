"""Leases for periodic jobs: with several API workers, one runs a job at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

import neo4j

# The first SET takes the node's write lock, so the expiry check below it sees the latest holder.
ACQUIRE_LEASE = """
MERGE (l:JobLease {id: $id})
SET l.touched_at = $now
WITH l
WHERE l.until IS NULL OR l.until <= $now
SET l.holder = $holder, l.until = $until
RETURN l.holder AS holder
"""


class LeaseRepository:
    """Time-limited job leases stored in Neo4j."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def acquire(self, *, job: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease of `job` for `ttl` unless another holder has it."""
        records, _, _ = self.driver.execute_query(ACQUIRE_LEASE, id=job, holder=holder, now=now, until=now + ttl,
                                                  database_=self.database)
        return bool(records)
