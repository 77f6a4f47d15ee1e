"""The process's wiring: settings, driver, repositories and services, built once."""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from access.admin import AdminService
from access.auth import DEV_JWT_SECRET, AuthService, AuthSettings
from access.authz import Authorizer
from access.pipeline import Pipeline
from access.principal import ROLES
from access.reports import Reports
from analytics.attribution import AttributionService
from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from api.settings import AppSettings
from audit.group import GroupCommitAuditStore
from audit.service import AuditService
from collect.rules import IdentityRules, load_rules
from collect.service import IngestService
from collect.settings import CollectSettings
from collect.sources import SourceService
from collect.traits import TraitService
from consent.model import Purpose
from consent.policy import load_policy
from consent.settings import ConsentSettings
from graph.analytics import AnalyticsRepository
from graph.attribution import AttributionRepository
from graph.audit import AuditRepository
from graph.consents import ConsentRepository
from graph.driver import create_driver
from graph.identity import IdentityRepository, TraitRepository
from graph.policies import PolicyRepository
from graph.principals import PrincipalRepository
from graph.profiles import ProfileRepository
from graph.segments import SegmentRepository
from graph.settings import DEV_PASSWORD, Neo4jSettings
from graph.sources import SourceRepository
from privacy.masking import load_masking_policy
from privacy.settings import DEV_HMAC_KEY, PrivacySettings
from segments.realtime import RealtimeEvaluator
from segments.service import SegmentService


class ConfigError(RuntimeError):
    """Settings that must not be used (e.g. demo secrets in prod)."""


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
    profiles: ProfileRepository
    auth: AuthService
    pipeline: Pipeline
    admin: AdminService
    audit: AuditService
    segments: SegmentService
    analytics_settings: AnalyticsSettings
    analytics: AnalyticsService
    realtime: RealtimeEvaluator | None
    reports: Reports

    def close(self) -> None:
        """Release the driver."""
        self.driver.close()


def build_container(
    *, app: AppSettings | None = None, neo: Neo4jSettings | None = None, collect: CollectSettings | None = None,
    analytics: AnalyticsSettings | None = None,
) -> Container:
    """Read settings from the environment (unless given) and wire the services."""
    app = app or AppSettings()
    neo = neo or Neo4jSettings()
    collect = collect or CollectSettings()
    analytics_settings = analytics or AnalyticsSettings()
    auth_settings, privacy, consent_settings = AuthSettings(), PrivacySettings(), ConsentSettings()
    if app.env == "prod":
        for name, value, default in (("VEIL_NEO4J_PASSWORD", neo.password, DEV_PASSWORD),
                                     ("VEIL_AUTH_JWT_SECRET", auth_settings.jwt_secret, DEV_JWT_SECRET),
                                     ("VEIL_PRIVACY_HMAC_KEY", privacy.hmac_key, DEV_HMAC_KEY)):
            if value == default:
                raise ConfigError(f"{name} is the development default; set a real secret in prod")
    rules = load_rules(collect.identity_rules_file, extra_blocked=collect.blocked_values)
    # Policies are data, validated here: a bad file stops start-up.
    masking = load_masking_policy(roles=set(ROLES), purposes={p.value for p in Purpose},
                                  path=privacy.masking_policy_file)
    consent_policy = load_policy(consent_settings.policy_file)
    driver = create_driver(neo)
    db = neo.database
    profiles = ProfileRepository(driver, database=db)
    consents = ConsentRepository(driver, database=db)
    authz = Authorizer(PolicyRepository(driver, database=db))
    auth = AuthService(PrincipalRepository(driver, database=db), authz, auth_settings)
    audit = AuditService(GroupCommitAuditStore(AuditRepository(driver, database=db)))
    pipeline = Pipeline(authz=authz, profiles=profiles, consents=consents, consent_policy=consent_policy,
                        masking=masking, audit=audit, jurisdiction=consent_settings.jurisdiction,
                        hmac_key=privacy.hmac_key.encode("utf-8"))
    admin = AdminService(pipeline=pipeline, auth=auth, traits=TraitService(TraitRepository(driver, database=db)),
                         consents=consents)
    segments = SegmentService(repo=SegmentRepository(driver, database=db),
                              purchase_events=analytics_settings.purchase_events)
    ingest = IngestService(repo=IdentityRepository(driver, database=db), settings=collect, rules=rules,
                           consents=consents, jurisdiction=consent_settings.jurisdiction)
    analytics_service = AnalyticsService(repo=AnalyticsRepository(driver, database=db), settings=analytics_settings)
    realtime = None
    if analytics_settings.realtime_segments:
        realtime = RealtimeEvaluator(segments)
        ingest.on_written.append(realtime.notify)
    return Container(
        app=app, neo4j=neo, collect=collect, rules=rules, driver=driver,
        sources=SourceService(SourceRepository(driver, database=db)),
        ingest=ingest,
        profiles=profiles, auth=auth, pipeline=pipeline, admin=admin, audit=audit,
        segments=segments, realtime=realtime,
        reports=Reports(pipeline=pipeline, segments=segments, analytics=analytics_service,
                        attribution=AttributionService(repo=AttributionRepository(driver, database=db),
                                                       settings=analytics_settings),
                        k_anonymity=analytics_settings.k_anonymity),
        analytics_settings=analytics_settings,
        analytics=analytics_service,
    )
