"""Authorization policy store: casbin rules as nodes plus a version counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j

VERSION = "OPTIONAL MATCH (v:PolicyVersion {id: 'global'}) RETURN coalesce(v.version, 0) AS version"
RULES = "MATCH (r:PolicyRule) RETURN r.ptype AS ptype, r.v AS v ORDER BY r.ptype, r.key"
SEED = """
MERGE (v:PolicyVersion {id: 'global'})
WITH v WHERE coalesce(v.version, 0) = 0
UNWIND $rows AS row
MERGE (r:PolicyRule {key: row.key}) ON CREATE SET r.ptype = row.ptype, r.v = row.v, r.created_at = $now
WITH DISTINCT v
SET v.version = 1, v.updated_at = $now
"""
ADD = """
MERGE (v:PolicyVersion {id: 'global'})
WITH v
OPTIONAL MATCH (existing:PolicyRule {key: $key})
WITH v, existing
CALL (v, existing) {
  WITH v, existing WHERE existing IS NULL
  CREATE (:PolicyRule {key: $key, ptype: $ptype, v: $v, created_at: $now, created_by: $actor})
  SET v.version = coalesce(v.version, 0) + 1, v.updated_at = $now
  RETURN true AS added
  UNION
  WITH v, existing WHERE existing IS NOT NULL
  RETURN false AS added
}
RETURN added
"""
REMOVE = """
MATCH (r:PolicyRule {key: $key})
MATCH (v:PolicyVersion {id: 'global'})
DELETE r
SET v.version = v.version + 1, v.updated_at = $now, v.updated_by = $actor
RETURN true AS removed
"""


@dataclass(frozen=True)
class PolicyRule:
    """One casbin rule: ptype 'p' (sub, dom, obj, act, eft) or 'g' (user, role, dom)."""

    ptype: str
    values: tuple[str, ...]

    @property
    def key(self) -> str:
        """Stable identity of the rule."""
        return self.ptype + "|" + "|".join(self.values)


class PolicyRepository:
    """Reads and writes of the policy store."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def version(self) -> int:
        """Current policy version (0 = never seeded)."""
        records, _, _ = self.driver.execute_query(VERSION, database_=self.database,
                                                  routing_=neo4j.RoutingControl.READ)
        return int(records[0]["version"])

    def rules(self) -> list[PolicyRule]:
        """All rules."""
        records, _, _ = self.driver.execute_query(RULES, database_=self.database,
                                                  routing_=neo4j.RoutingControl.READ)
        return [PolicyRule(r["ptype"], tuple(r["v"])) for r in records]

    def seed(self, rules: list[PolicyRule]) -> None:
        """Store the default rules once (no-op when a policy exists)."""
        self.driver.execute_query(
            SEED, rows=[{"key": r.key, "ptype": r.ptype, "v": list(r.values)} for r in rules],
            now=datetime.now(UTC), database_=self.database)

    def add(self, rule: PolicyRule, *, actor: str) -> bool:
        """Add a rule; False when it already existed."""
        records, _, _ = self.driver.execute_query(
            ADD, key=rule.key, ptype=rule.ptype, v=list(rule.values), actor=actor,
            now=datetime.now(UTC), database_=self.database)
        return bool(records[0]["added"])

    def remove(self, rule: PolicyRule, *, actor: str) -> bool:
        """Remove a rule; False when it did not exist."""
        records, _, _ = self.driver.execute_query(
            REMOVE, key=rule.key, actor=actor, now=datetime.now(UTC), database_=self.database)
        return bool(records)
