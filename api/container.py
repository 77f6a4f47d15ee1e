"""The process's wiring: settings, driver, repositories and services, built once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import neo4j

from access.admin import AdminService
from access.auth import AuthService, AuthSettings
from access.authz import Authorizer
from access.guard import Guard
from access.kanon import KAnonymity
from access.pipeline import Pipeline
from access.principal import ROLES
from activation.service import ActivationService
from analytics.attribution import AttributionService
from analytics.reports import Reports
from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from api.settings import AppSettings
from audit.checkpoint import may_create_key
from audit.group import GroupCommitAuditStore
from audit.service import AuditService
from audit.settings import AuditSettings
from collect.intake import LogIntake
from collect.log.settings import LogSettings
from collect.log.wiring import DurableLog, KafkaDurableLog, build_durable_log
from collect.rules import IdentityRules, load_rules
from collect.service import IngestService
from collect.settings import CollectSettings
from collect.sources import SourceService
from collect.traits import TraitService
from consent.model import Purpose
from consent.policy import load_policy
from consent.settings import ConsentSettings
from core.errors import VeilError
from core.secrets import SecretError, SecretStore
from graph.analytics import AnalyticsRepository
from graph.attribution import AttributionRepository
from graph.audit import AuditRepository
from graph.catalog import CatalogRepository
from graph.consents import ConsentRepository
from graph.driver import create_driver
from graph.dsr import DsrRepository
from graph.erasure import ErasureRepository
from graph.identity import IdentityRepository, TraitRepository
from graph.policies import PolicyRepository
from graph.principals import PrincipalRepository
from graph.profiles import ProfileRepository
from graph.resolution import ResolutionRepository
from graph.retention import RetentionRepository
from graph.segments import SegmentRepository
from graph.settings import Neo4jSettings
from graph.sources import SourceRepository
from graph.upgrade import UpgradeRepository
from privacy.catalog import CatalogService
from privacy.dsr import DsrService
from privacy.erasure import ErasureReport, erase_profile
from privacy.ingest_scan import IngestScanner, load_ingest_policy
from privacy.key_admin import KeyAdmin
from privacy.keys import (
    KeyMaterialError,
    SqliteKeyStore,
    blind_key_from_settings,
    kek_from_settings,
)
from privacy.masking import load_masking_policy
from privacy.reader import ProfileReader
from privacy.retention import RetentionService, load_retention_policy
from privacy.settings import CryptoSettings, PrivacySettings
from privacy.vault import FieldVault
from resolution.service import ResolutionService
from resolution.settings import ResolutionSettings
from segments.realtime import RealtimeEvaluator
from segments.service import SegmentService
from segments.usecases import SegmentCases


class ConfigError(VeilError, RuntimeError):
    """Settings that must not be used (e.g. demo secrets in prod)."""

    code = "configuration_error"
    status = 500


@dataclass
class Container:
    """Everything a transport (HTTP, CLI) needs."""

    app: AppSettings
    neo4j: Neo4jSettings
    collect: CollectSettings
    rules: IdentityRules
    driver: neo4j.Driver
    sources: SourceService
    ingest: IngestService
    profiles: ProfileReader
    auth: AuthService
    guard: Guard
    keys: KeyAdmin
    pipeline: Pipeline
    admin: AdminService
    audit: AuditService
    segments: SegmentService
    vault: FieldVault
    privacy: PrivacySettings
    crypto: CryptoSettings
    erase: Callable[..., ErasureReport]  # erase_profile(workspace=, profile_id=, actor=, reason=, actor_kind=)
    catalog: CatalogService
    dsr: DsrService
    retention: RetentionService
    analytics_settings: AnalyticsSettings
    analytics: AnalyticsService
    realtime: RealtimeEvaluator | None
    reports: Reports
    segment_cases: SegmentCases
    resolution: ResolutionService  # probabilistic identity resolution (resolution/)

    def migrate(self) -> tuple[list[int], int, int]:
        """Apply schema migrations: (applied now, current version, latest version)."""
        from graph.migrations import LATEST_VERSION, apply_migrations, current_version

        applied = apply_migrations(self.driver, database=self.neo4j.database)
        return applied, current_version(self.driver, database=self.neo4j.database), LATEST_VERSION

    def ping(self) -> bool:
        """Neo4j reachable (readiness)."""
        from graph.driver import ping

        return ping(self.driver, database=self.neo4j.database)

    def schema_version(self) -> int | None:
        """The applied schema version (readiness)."""
        from graph.migrations import current_version

        return current_version(self.driver, database=self.neo4j.database)

    def leases(self) -> Any:
        """Job leases in Neo4j, so one worker of many runs a periodic job."""
        from graph.jobs import LeaseRepository

        return LeaseRepository(self.driver, database=self.neo4j.database)

    # The durable log (None with VEIL_LOG_BACKEND=direct); the collection API ingests through `intake`.
    durable: DurableLog | KafkaDurableLog | None = None

    @property
    def intake(self) -> IngestService | LogIntake:
        """What the collection API calls: the log's intake, or the ingest service itself (direct)."""
        return self.durable.intake if self.durable is not None else self.ingest
    activation: ActivationService | None = None

    def close(self) -> None:
        """Finish queued realtime segment evaluations, then release the driver and the key store.

        Without the flush a short-lived process (a CLI import) closed the driver under the
        evaluator's background thread, which then failed and logged into a closed stream.
        """
        if self.durable is not None:
            self.durable.stop()
        if self.realtime is not None:
            self.realtime.flush(timeout=30.0)
        if self.activation is not None:
            self.activation.close()
        self.driver.close()
        close = getattr(self.vault.store, "close", None)
        if close is not None:
            close()


def build_vault(crypto: CryptoSettings, privacy: PrivacySettings, *, env: str,
                store: SecretStore | None = None) -> FieldVault:
    """The field vault: KEK provider, blind-index key and data-key store.

    Keys come from the settings or the install's files (generated on first start outside prod).
    A key generated just now next to a data-key store that already holds keys is refused: the
    stored keys were made under other key material, which must be provided instead.
    """
    store = store or SecretStore.from_env(env)
    try:
        provider, kek = kek_from_settings(crypto, store)
        blind_key, blind = blind_key_from_settings(crypto, store)
    except KeyMaterialError as exc:
        raise ConfigError(str(exc)) from exc
    keys = SqliteKeyStore(crypto.keystore_file)
    fresh = [r for r in (kek, blind) if r.source == "generated"]
    if fresh and keys.count() > 0:
        held = keys.count()
        keys.close()
        for r in fresh:  # made a moment ago by this refusal's own start: do not leave it for the next one
            if r.path is not None:
                r.path.unlink(missing_ok=True)
        raise ConfigError(f"the data-key store {crypto.keystore_file} holds {held} keys made with a KEK and "
                          "blind-index key this install no longer has: set VEIL_CRYPTO_KEK(_FILE) and "
                          "VEIL_CRYPTO_BLIND_INDEX_KEY(_FILE) to the keys they were made with")
    return FieldVault(provider=provider, store=keys, blind_key=blind_key,
                      enabled=privacy.encryption, cache_size=crypto.key_cache_size,
                      cache_seconds=crypto.key_cache_seconds)


@dataclass(frozen=True)
class SecretSettings:
    """The settings that carry secrets, with every secret resolved."""

    neo: Neo4jSettings
    auth: AuthSettings
    privacy: PrivacySettings
    audit: AuditSettings


def load_secrets(*, env: str, neo: Neo4jSettings | None = None, auth: AuthSettings | None = None,
                 privacy: PrivacySettings | None = None, crypto: CryptoSettings | None = None,
                 audit: AuditSettings | None = None, store: SecretStore | None = None) -> SecretSettings:
    """Resolve every secret of the product; ConfigError naming all that are missing (prod) or bad."""
    store = store or SecretStore.from_env(env)
    neo, auth, privacy = neo or Neo4jSettings(), auth or AuthSettings(), privacy or PrivacySettings()
    crypto, audit = crypto or CryptoSettings(), audit or AuditSettings()
    problems: list[str] = []

    def attempt(fn: Callable[[], object]) -> object:
        try:
            return fn()
        except (SecretError, KeyMaterialError) as exc:
            problems.append(getattr(exc, "message", str(exc)))
            return None

    resolved = (attempt(lambda: neo.with_secrets(store)), attempt(lambda: auth.with_secrets(store)),
                attempt(lambda: privacy.with_secrets(store)))
    attempt(lambda: kek_from_settings(crypto, store))
    attempt(lambda: blind_key_from_settings(crypto, store))
    key = audit.checkpoint_key_file
    if key is not None and not key.exists() and not may_create_key(audit, env):
        problems.append(f"the audit checkpoint key {key} is missing and VEIL_ENV={env} does not create it: "
                        "restore it, point VEIL_AUDIT_CHECKPOINT_KEY_FILE at it, or run `veil secrets init` once")
    if problems:
        raise ConfigError("secrets are missing or unusable:\n  - " + "\n  - ".join(problems))
    new_neo, new_auth, new_privacy = resolved
    return SecretSettings(neo=cast(Neo4jSettings, new_neo), auth=cast(AuthSettings, new_auth),
                          privacy=cast(PrivacySettings, new_privacy), audit=audit)


def build_container(
    *, app: AppSettings | None = None, neo: Neo4jSettings | None = None, collect: CollectSettings | None = None,
    privacy: PrivacySettings | None = None,
    analytics: AnalyticsSettings | None = None, log: LogSettings | None = None,
) -> Container:
    """Read settings from the environment (unless given) and wire the services."""
    app = app or AppSettings()
    neo = neo or Neo4jSettings()
    collect = collect or CollectSettings()
    privacy = privacy or PrivacySettings()
    analytics_settings = analytics or AnalyticsSettings()
    consent_settings = ConsentSettings()
    store = SecretStore.from_env(app.env)
    crypto = CryptoSettings()
    secrets = load_secrets(env=app.env, neo=neo, privacy=privacy, crypto=crypto, store=store)
    neo, auth_settings, privacy, audit_settings = secrets.neo, secrets.auth, secrets.privacy, secrets.audit
    rules = load_rules(collect.identity_rules_file, extra_blocked=collect.blocked_values)
    # Policies are data, validated here: a bad file stops start-up.
    masking = load_masking_policy(roles=set(ROLES), purposes={p.value for p in Purpose},
                                  path=privacy.masking_policy_file)
    consent_policy = load_policy(consent_settings.policy_file)
    try:
        vault = build_vault(crypto, privacy, env=app.env, store=store)
    except KeyMaterialError as exc:
        raise ConfigError(str(exc)) from exc
    ingest_policy = load_ingest_policy(privacy.ingest_policy_file)
    retention_policy = load_retention_policy(privacy.retention_policy_file)
    driver = create_driver(neo)
    db = neo.database
    profiles = ProfileReader(repo=ProfileRepository(driver, database=db), vault=vault)
    consents = ConsentRepository(driver, database=db)
    authz = Authorizer(PolicyRepository(driver, database=db))
    auth = AuthService(PrincipalRepository(driver, database=db), authz, auth_settings)
    audit = AuditService(GroupCommitAuditStore(AuditRepository(driver, database=db)), settings=audit_settings)
    hmac_key = privacy.hmac_key.encode("utf-8")
    catalog = CatalogService(repo=CatalogRepository(driver, database=db), sample_values=privacy.catalog_sample_values,
                             refresh_seconds=privacy.catalog_refresh_seconds)
    scanner = IngestScanner(catalog=catalog, policy=ingest_policy, hmac_key=hmac_key) if privacy.ingest_scan else None
    guard = Guard(authz=authz, audit=audit)
    pipeline = Pipeline(guard=guard, profiles=profiles, consents=consents, consent_policy=consent_policy,
                        masking=masking, jurisdiction=consent_settings.jurisdiction,
                        hmac_key=hmac_key, catalog=catalog)
    erasure = ErasureRepository(driver, database=db)
    erase = partial(erase_profile, vault=vault, repo=erasure, audit=audit, suppress=privacy.suppression)
    sealed_trait = catalog.sealed_trait if vault.enabled else None
    traits = TraitService(TraitRepository(driver, database=db), vault=vault, sealed_trait=sealed_trait)
    admin = AdminService(pipeline=pipeline, auth=auth, traits=traits, consents=consents, erase=erase)
    dsr = DsrService(repo=DsrRepository(driver, database=db), guard=guard, profiles=profiles, consents=consents,
                     audit=audit, jurisdiction=consent_settings.jurisdiction, traits=traits,
                     export_dir=privacy.dsr_export_dir, deadline_days=privacy.dsr_deadline_days, erasure=erase)
    segments = SegmentService(repo=SegmentRepository(driver, database=db),
                              sealed_trait=sealed_trait,
                              purchase_events=analytics_settings.purchase_events)
    ingest = IngestService(repo=IdentityRepository(driver, database=db), settings=collect, rules=rules,
                           vault=vault, consents=consents, jurisdiction=consent_settings.jurisdiction,
                           suppressed=erasure.suppressed if privacy.suppression else None, scanner=scanner,
                           sealed_trait=sealed_trait)
    analytics_service = AnalyticsService(repo=AnalyticsRepository(driver, database=db), settings=analytics_settings)
    realtime = None
    if analytics_settings.realtime_segments:
        realtime = RealtimeEvaluator(segments)
        ingest.on_written.append(realtime.notify)
    kanon = KAnonymity(guard=guard, k=analytics_settings.k_anonymity)
    key_admin = KeyAdmin(guard=guard, vault=vault, upgrade_repo=UpgradeRepository(driver, database=db))
    admin.seal_traits = key_admin.seal_traits
    # Realtime segments consume what the log's writers committed (never a queue that drops).
    durable = build_durable_log(log or LogSettings(), service=ingest, on_committed=partial(
        _evaluate_realtime, segments) if analytics_settings.realtime_segments else None)
    return Container(
        app=app, neo4j=neo, collect=collect, rules=rules, driver=driver,
        sources=SourceService(SourceRepository(driver, database=db), default_origins=collect.cors_origins),
        ingest=ingest,
        profiles=profiles, auth=auth, guard=guard, pipeline=pipeline,
        keys=key_admin, admin=admin, audit=audit,
        segments=segments, realtime=realtime,
        vault=vault, privacy=privacy, crypto=crypto, erase=erase, catalog=catalog, dsr=dsr,
        retention=RetentionService(repo=RetentionRepository(driver, database=db), audit=audit,
                                   policy=retention_policy, batch_size=privacy.retention_batch_size),
        reports=Reports(pipeline=pipeline, analytics=analytics_service,
                        attribution=AttributionService(repo=AttributionRepository(driver, database=db),
                                                       settings=analytics_settings, vault=vault),
                        kanon=kanon),
        segment_cases=SegmentCases(pipeline=pipeline, segments=segments, kanon=kanon),
        analytics_settings=analytics_settings,
        analytics=analytics_service,
        resolution=ResolutionService(repo=ResolutionRepository(driver, database=db), reader=profiles,
                                     guard=guard, audit=audit, rules=rules, settings=ResolutionSettings()),
        durable=durable,
        activation=ActivationService(driver=driver, database=db, pipeline=pipeline, audit=audit,
                                     jurisdiction=consent_settings.jurisdiction),
    )


def _evaluate_realtime(segments: SegmentService, workspace: str, profile_ids: list[str]) -> None:
    segments.evaluate_all(workspace=workspace, realtime_only=True, profile_ids=profile_ids)
