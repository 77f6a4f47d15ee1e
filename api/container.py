"""The process's wiring: settings, driver, repositories and services, built once."""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from api.settings import AppSettings
from collect.rules import IdentityRules, load_rules
from collect.service import IngestService
from collect.settings import CollectSettings
from collect.sources import SourceService
from graph.driver import create_driver
from graph.identity import IdentityRepository
from graph.profiles import ProfileRepository
from graph.settings import DEV_PASSWORD, Neo4jSettings
from graph.sources import SourceRepository


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

    def close(self) -> None:
        """Release the driver."""
        self.driver.close()


def build_container(
    *, app: AppSettings | None = None, neo: Neo4jSettings | None = None, collect: CollectSettings | None = None
) -> Container:
    """Read settings from the environment (unless given) and wire the services."""
    app = app or AppSettings()
    neo = neo or Neo4jSettings()
    collect = collect or CollectSettings()
    if app.env == "prod" and neo.password == DEV_PASSWORD:
        raise ConfigError("VEIL_NEO4J_PASSWORD is the development default; set a real password in prod")
    rules = load_rules(collect.identity_rules_file, extra_blocked=collect.blocked_values)
    driver = create_driver(neo)
    db = neo.database
    return Container(
        app=app, neo4j=neo, collect=collect, rules=rules, driver=driver,
        sources=SourceService(SourceRepository(driver, database=db)),
        ingest=IngestService(repo=IdentityRepository(driver, database=db), settings=collect, rules=rules),
        profiles=ProfileRepository(driver, database=db),
    )
