"""Builds the identity-resolution service from a container (shared by the CLI and GraphQL)."""

from __future__ import annotations

from api.container import Container
from graph.resolution import ResolutionRepository
from resolution.service import ResolutionService
from resolution.settings import ResolutionSettings


def build_service(c: Container) -> ResolutionService:
    """The resolution service over the container's reader, authorizer, audit and rules."""
    return ResolutionService(repo=ResolutionRepository(c.driver, database=c.neo4j.database), reader=c.profiles,
                             authz=c.pipeline.authz, audit=c.audit, rules=c.rules, settings=ResolutionSettings())
