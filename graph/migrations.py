"""Versioned, idempotent schema migrations (constraints and indexes).

Each migration is a list of IF NOT EXISTS statements; applied versions are recorded as
(:SchemaMigration) nodes. `apply_migrations` is safe to run any number of times and from
several processes (the statements and the version MERGE are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j


@dataclass(frozen=True)
class Migration:
    """One schema version."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "identity graph", (
        ("CREATE CONSTRAINT schema_migration_version IF NOT EXISTS "
        "FOR (m:SchemaMigration) REQUIRE m.version IS UNIQUE"),
        "CREATE CONSTRAINT workspace_id IF NOT EXISTS FOR (w:Workspace) REQUIRE w.id IS UNIQUE",
        "CREATE CONSTRAINT source_id IF NOT EXISTS FOR (s:Source) REQUIRE s.id IS UNIQUE",
        "CREATE CONSTRAINT source_key_hash IF NOT EXISTS FOR (s:Source) REQUIRE s.key_hash IS UNIQUE",
        "CREATE CONSTRAINT profile_id IF NOT EXISTS FOR (p:Profile) REQUIRE p.id IS UNIQUE",
        "CREATE CONSTRAINT identifier_key IF NOT EXISTS FOR (i:Identifier) REQUIRE i.key IS UNIQUE",
        "CREATE CONSTRAINT interaction_key IF NOT EXISTS FOR (e:Interaction) REQUIRE e.key IS UNIQUE",
        "CREATE CONSTRAINT product_key IF NOT EXISTS FOR (p:Product) REQUIRE p.key IS UNIQUE",
        "CREATE CONSTRAINT merge_id IF NOT EXISTS FOR (m:Merge) REQUIRE m.id IS UNIQUE",
        "CREATE INDEX profile_workspace IF NOT EXISTS FOR (p:Profile) ON (p.workspace, p.status)",
        "CREATE INDEX identifier_type IF NOT EXISTS FOR (i:Identifier) ON (i.workspace, i.type)",
        "CREATE INDEX interaction_ts IF NOT EXISTS FOR (e:Interaction) ON (e.workspace, e.ts)",
        "CREATE INDEX interaction_event IF NOT EXISTS FOR (e:Interaction) ON (e.workspace, e.event)",
        "CREATE INDEX conflict_workspace IF NOT EXISTS FOR (c:IdentityConflict) ON (c.workspace, c.at)",
        "CREATE INDEX merge_workspace IF NOT EXISTS FOR (m:Merge) ON (m.workspace, m.at)",
    )),
    Migration(2, "access, consent and audit", (
        "CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.id IS UNIQUE",
        "CREATE CONSTRAINT api_key_hash IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.key_hash IS UNIQUE",
        "CREATE CONSTRAINT user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE",
        "CREATE CONSTRAINT user_name IF NOT EXISTS FOR (u:User) REQUIRE u.username IS UNIQUE",
        "CREATE CONSTRAINT policy_rule_key IF NOT EXISTS FOR (r:PolicyRule) REQUIRE r.key IS UNIQUE",
        "CREATE CONSTRAINT policy_version_id IF NOT EXISTS FOR (v:PolicyVersion) REQUIRE v.id IS UNIQUE",
        "CREATE CONSTRAINT consent_id IF NOT EXISTS FOR (c:Consent) REQUIRE c.id IS UNIQUE",
        "CREATE INDEX consent_subject IF NOT EXISTS FOR (c:Consent) ON (c.workspace, c.subject)",
        # Audit trail (same statements as graph/audit.py SCHEMA; copied: an applied migration never changes).
        "CREATE CONSTRAINT audit_head_id IF NOT EXISTS FOR (h:AuditHead) REQUIRE h.id IS UNIQUE",
        "CREATE CONSTRAINT audit_record_seq IF NOT EXISTS FOR (a:AuditRecord) REQUIRE a.seq IS UNIQUE",
        "CREATE CONSTRAINT audit_record_id IF NOT EXISTS FOR (a:AuditRecord) REQUIRE a.id IS UNIQUE",
        "CREATE INDEX audit_record_workspace_seq IF NOT EXISTS FOR (a:AuditRecord) ON (a.workspace, a.seq)",
        "CREATE INDEX audit_record_workspace_at IF NOT EXISTS FOR (a:AuditRecord) ON (a.workspace, a.at)",
        ("CREATE INDEX audit_record_workspace_subject_at IF NOT EXISTS "
        "FOR (a:AuditRecord) ON (a.workspace, a.subject, a.at)"),
        ("CREATE INDEX audit_record_workspace_actor_at IF NOT EXISTS "
        "FOR (a:AuditRecord) ON (a.workspace, a.actor, a.at)"),
    )),
    Migration(3, "segments", (
        "CREATE CONSTRAINT segment_id IF NOT EXISTS FOR (s:Segment) REQUIRE s.id IS UNIQUE",
        "CREATE INDEX segment_workspace IF NOT EXISTS FOR (s:Segment) ON (s.workspace)",
    )),
    Migration(4, "audit checkpoints", (
        "CREATE CONSTRAINT audit_checkpoint_seq IF NOT EXISTS FOR (c:AuditCheckpoint) REQUIRE c.seq IS UNIQUE",
    )),
    Migration(5, "erasure suppression list", (
        "CREATE CONSTRAINT suppression_key IF NOT EXISTS FOR (s:Suppression) REQUIRE s.key IS UNIQUE",
    )),
    Migration(6, "trait catalog, data-subject requests, retention", (
        "CREATE CONSTRAINT catalog_entry_id IF NOT EXISTS FOR (c:CatalogEntry) REQUIRE c.id IS UNIQUE",
        "CREATE INDEX catalog_entry_workspace IF NOT EXISTS FOR (c:CatalogEntry) ON (c.workspace, c.scope)",
        "CREATE CONSTRAINT dsr_case_id IF NOT EXISTS FOR (d:DsrCase) REQUIRE d.id IS UNIQUE",
        "CREATE INDEX dsr_case_workspace IF NOT EXISTS FOR (d:DsrCase) ON (d.workspace, d.received_at)",
        "CREATE INDEX interaction_type_ts IF NOT EXISTS FOR (e:Interaction) ON (e.type, e.ts)",
        # A policy store seeded before this version gets the new default rule (access/default_policy.csv).
        ("MATCH (v:PolicyVersion {id: 'global'}) WHERE v.version > 0 "
         "MERGE (r:PolicyRule {key: 'p|role:compliance_officer|*|dsr|*|allow'}) "
         "ON CREATE SET r.ptype = 'p', r.v = ['role:compliance_officer', '*', 'dsr', '*', 'allow'], "
         "r.created_at = toString(datetime()), r.created_by = 'migration:6', v.version = v.version + 1"),
    )),
    Migration(7, "analytics: stage history, model fits, campaign costs, job leases", (
        "CREATE CONSTRAINT lifecycle_month_key IF NOT EXISTS FOR (m:LifecycleMonth) REQUIRE m.key IS UNIQUE",
        "CREATE CONSTRAINT model_fit_key IF NOT EXISTS FOR (f:ModelFit) REQUIRE f.key IS UNIQUE",
        "CREATE CONSTRAINT campaign_cost_id IF NOT EXISTS FOR (c:CampaignCost) REQUIRE c.id IS UNIQUE",
        "CREATE INDEX campaign_cost_workspace IF NOT EXISTS FOR (c:CampaignCost) ON (c.workspace, c.starts)",
        "CREATE CONSTRAINT job_lease_id IF NOT EXISTS FOR (l:JobLease) REQUIRE l.id IS UNIQUE",
        # New default rules reach a policy store that was seeded before they existed (a fresh store
        # is seeded from access/default_policy.csv, which has them too).
        """MATCH (v:PolicyVersion {id: 'global'}) WHERE v.version > 0
        UNWIND [['role:marketer', '*', 'campaign_costs', '*', 'allow'],
                ['role:analyst', '*', 'campaign_costs', 'read', 'allow']] AS rule
        MERGE (r:PolicyRule {key: 'p|' + reduce(k = '', x IN rule | k + CASE k WHEN '' THEN '' ELSE '|' END + x)})
        ON CREATE SET r.ptype = 'p', r.v = rule, r.created_at = datetime(), r.created_by = 'migration:7'
        WITH DISTINCT v
        SET v.version = v.version + 1, v.updated_at = datetime()""",
    )),
)

LATEST_VERSION = max(m.version for m in MIGRATIONS)

_RECORD = (
    "MERGE (m:SchemaMigration {version: $version}) "
    "ON CREATE SET m.name = $name, m.applied_at = $now"
)
_APPLIED = "MATCH (m:SchemaMigration) RETURN collect(m.version) AS versions"


def applied_versions(driver: neo4j.Driver, *, database: str) -> set[int]:
    """Every schema version recorded as applied."""
    records, _, _ = driver.execute_query(_APPLIED, database_=database, routing_=neo4j.RoutingControl.READ)
    return set(records[0]["versions"])


def current_version(driver: neo4j.Driver, *, database: str) -> int:
    """The schema version: the highest one up to which every known migration is applied (0 = none)."""
    applied = applied_versions(driver, database=database)
    version = 0
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version not in applied:
            break
        version = migration.version
    return version


def apply_migrations(driver: neo4j.Driver, *, database: str) -> list[int]:
    """Apply every migration not applied yet (by version, so a gap filled later is applied too)."""
    done = applied_versions(driver, database=database)
    applied = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done:
            continue
        for statement in migration.statements:
            driver.execute_query(statement, database_=database)
        driver.execute_query(
            _RECORD, version=migration.version, name=migration.name,
            now=datetime.now(UTC).isoformat(), database_=database,
        )
        applied.append(migration.version)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    return applied
