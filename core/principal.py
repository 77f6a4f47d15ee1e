"""The caller: a staff user, an app's API key or a collection write key."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

ROLES = ("admin", "data_engineer", "marketer", "analyst", "support_agent", "compliance_officer", "app",
         "activation")  # activation: the journey worker (system principal), sends only


class PrincipalKind(StrEnum):
    """How the caller authenticated."""

    USER = "user"
    API_KEY = "api_key"
    WRITE_KEY = "write_key"
    SYSTEM = "system"
    OPERATOR = "operator"  # a person at the server's command line (veil CLI), with casbin roles


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, scoped to one workspace."""

    id: str  # "user:<id>" / "key:<id>" / "system:<name>"
    kind: PrincipalKind
    workspace: str
    roles: tuple[str, ...]
    name: str = ""


current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)
