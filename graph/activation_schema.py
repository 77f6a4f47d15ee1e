"""Activation's schema (constraints, indexes) and its default authorization rules.

Applied idempotently when the activation service starts, instead of as a numbered migration,
so that it cannot collide with migrations other work adds concurrently. Rules reach a policy
store that was seeded before they existed (a fresh store is seeded from
access/default_policy.csv, which lists them too).
"""

from __future__ import annotations

import neo4j

SCHEMA = (
    "CREATE CONSTRAINT journey_id IF NOT EXISTS FOR (j:Journey) REQUIRE j.id IS UNIQUE",
    "CREATE CONSTRAINT journey_version_key IF NOT EXISTS FOR (v:JourneyVersion) REQUIRE v.key IS UNIQUE",
    "CREATE CONSTRAINT journey_run_key IF NOT EXISTS FOR (r:JourneyRun) REQUIRE r.key IS UNIQUE",
    "CREATE CONSTRAINT send_key IF NOT EXISTS FOR (s:Send) REQUIRE s.key IS UNIQUE",
    "CREATE CONSTRAINT send_person_key IF NOT EXISTS FOR (d:SendPerson) REQUIRE d.key IS UNIQUE",
    "CREATE INDEX journey_workspace IF NOT EXISTS FOR (j:Journey) ON (j.workspace)",
    "CREATE INDEX journey_run_due IF NOT EXISTS FOR (r:JourneyRun) ON (r.workspace, r.state, r.next_at)",
    "CREATE INDEX journey_run_profile IF NOT EXISTS FOR (r:JourneyRun) ON (r.journey_id, r.profile_id)",
    "CREATE INDEX send_due IF NOT EXISTS FOR (s:Send) ON (s.workspace, s.channel, s.state, s.due_at)",
    "CREATE INDEX send_profile IF NOT EXISTS FOR (s:Send) ON (s.workspace, s.profile_id, s.channel)",
    "CREATE INDEX send_state IF NOT EXISTS FOR (s:Send) ON (s.workspace, s.state)",
    "CREATE INDEX send_workspace IF NOT EXISTS FOR (s:Send) ON (s.workspace)",
    "CREATE INDEX send_recipient IF NOT EXISTS FOR (s:Send) ON (s.workspace, s.profile_id_sent, s.channel)",
    "CREATE INDEX send_journey IF NOT EXISTS FOR (s:Send) ON (s.workspace, s.journey_id)",
    "CREATE INDEX profile_birth_month IF NOT EXISTS FOR (p:Profile) ON (p.workspace, p.`act.birth_month`)",
)

DEFAULT_RULES = (
    ("role:activation", "*", "profile", "read", "allow"),
    ("role:activation", "*", "profile.contact", "read", "allow"),
    ("role:activation", "*", "profile.non_pii", "read", "allow"),
    ("role:activation", "*", "profile.identifiers", "read", "allow"),
    ("role:activation", "*", "profile.scores", "read", "allow"),
    ("role:activation", "*", "activation.send", "write", "allow"),
    ("role:activation", "*", "profile.birth_month", "read", "allow"),
    ("role:activation", "*", "profile.government_id", "read", "deny"),
    ("role:activation", "*", "profile.financial", "read", "deny"),
    ("role:marketer", "*", "journeys", "read", "allow"),
    ("role:marketer", "*", "journeys", "write", "allow"),
    ("role:marketer", "*", "activation.sends", "read", "allow"),
    ("role:marketer", "*", "audiences", "export", "allow"),
    ("role:analyst", "*", "journeys", "read", "allow"),
    ("role:analyst", "*", "activation.sends", "read", "allow"),
)

ENSURE_RULES = """
MATCH (v:PolicyVersion {id: 'global'}) WHERE v.version > 0
UNWIND $rules AS rule
WITH v, rule, 'p|' + reduce(k = '', x IN rule | k + CASE k WHEN '' THEN '' ELSE '|' END + x) AS key
OPTIONAL MATCH (old:PolicyRule {key: key})
WITH v, rule, key WHERE old IS NULL
MERGE (r:PolicyRule {key: key})
ON CREATE SET r.ptype = 'p', r.v = rule, r.created_at = datetime(), r.created_by = 'activation'
WITH v, count(r) AS added WHERE added > 0
SET v.version = v.version + 1, v.updated_at = datetime()
"""


def ensure_schema(driver: neo4j.Driver, *, database: str) -> None:
    """Create activation's constraints and indexes and add its default rules (idempotent)."""
    for statement in SCHEMA:
        driver.execute_query(statement, database_=database)
    driver.execute_query(ENSURE_RULES, rules=[list(r) for r in DEFAULT_RULES], database_=database)
