"""What a service needs of the guard (access.guard.Guard implements it).

Lower layers (privacy, segments, analytics, activation) take a `GuardPort` so they call the one
guard without importing `access`, which sits above them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class GuardPort(Protocol):
    """Authorize a caller and audit the decision; audit other decisions of the service."""

    def require(self, caller: Any, resource: str, action: str, *, subject: str | None = None,
                 audit_allow: bool = True, reason: str = "permitted", returned: Sequence[str] = (),
                 audit_action: Any = None, extra: dict[str, Any] | None = None) -> None:
        """Raise Forbidden (a VeilError) unless allowed; denials are always audited."""
        ...

    def record(self, caller: Any, *, action: Any, resource: str, subject: str | None, decision: Any,
               reason: str, returned: Sequence[str] = (), masked: Sequence[str] = (),
               lawful_basis: str | None = None, consent_record_id: str | None = None,
               purpose: str | None = None, extra: dict[str, Any] | None = None,
               defer: list[Any] | None = None, immediate: bool = False) -> None:
        """Audit one decision."""
        ...
