"""k-anonymity for aggregates: groups smaller than k are hidden from roles that may not read
individual profiles (e.g. marketers). One rule for every report, preview and CLI table."""

from __future__ import annotations

from access.guard import Guard, ReadContext


class KAnonymity:
    """Decides, per caller, whether a count may be shown."""

    def __init__(self, *, guard: Guard, k: int) -> None:
        self.guard = guard
        self.k = k

    def sees_individuals(self, ctx: ReadContext) -> bool:
        """True when the role may read individual profiles (no suppression then)."""
        return self.guard.allowed(ctx, "profile", "read")

    def suppress(self, ctx: ReadContext, n: int) -> bool:
        """Whether a group of n people must be hidden from this caller."""
        return 0 < n < self.k and not self.sees_individuals(ctx)
