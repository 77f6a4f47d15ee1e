"""Identity resolution for the transports: the container's service and the scheduled job."""

from __future__ import annotations

import logging

from access.principal import Principal, PrincipalKind
from analytics.scheduler import Job
from api.container import Container
from resolution.model import MatchingError
from resolution.service import ResolutionService
from resolution.settings import ResolutionSettings

log = logging.getLogger("veil.identity")


def build_service(c: Container) -> ResolutionService:
    """The container's resolution service (reader, authorizer, audit and rules wired in)."""
    return c.resolution


def identity_jobs(c: Container, settings: ResolutionSettings | None = None) -> list[Job]:
    """The scheduled matching job: an incremental run per workspace (a full one the first time)."""
    settings = settings or ResolutionSettings()
    service = build_service(c)

    def run() -> None:
        for ws in c.analytics.repo.workspaces():
            # The scheduled job acts as a system principal with the admin role (identity
            # resolution is admin-only); the guard authorizes and audits it like any caller.
            principal = Principal(id="system:identity-scheduler", kind=PrincipalKind.SYSTEM, workspace=ws,
                                  roles=("admin",))
            try:
                service.run(principal, incremental=True)
            except MatchingError as exc:  # e.g. too few profiles yet: try again next interval
                log.info("identity matching skipped for %s: %s", ws, exc.code)

    return [Job("identity-matching", settings.interval_seconds, run)]
