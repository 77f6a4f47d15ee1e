"""An audit store that group-commits concurrent appends (one transaction per group).

Every read appends an audit record before it answers, and appends serialise on the chain
head. One append per transaction caps reads at the commit rate; grouping the appends waiting
at one moment into `append_many` keeps the chain gap-free and each caller still returns only
once its own record is durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audit.chain import StoredAudit
from audit.events import AuditEvent
from core.group_commit import GroupCommit


class GroupCommitAuditStore:
    """Wraps an AuditRepository: `append` and `append_many` are grouped, everything else is delegated."""

    def __init__(self, repo: Any, *, max_size: int = 500) -> None:
        self.repo = repo
        self._group: GroupCommit[tuple[AuditEvent, ...], list[StoredAudit]] = GroupCommit(
            self._flush, name="veil-audit-writer", max_size=max_size, size=len)

    def _flush(self, batches: list[tuple[AuditEvent, ...]]) -> list[list[StoredAudit]]:
        stored = self.repo.append_many([e for batch in batches for e in batch])
        out, start = [], 0
        for batch in batches:
            out.append(stored[start:start + len(batch)])
            start += len(batch)
        return out

    def append(self, event: AuditEvent) -> StoredAudit:
        """Durably append one event (grouped with concurrent appends)."""
        return self._group.submit((event,))[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[StoredAudit]:
        """Durably append events in order, contiguous in the chain, grouped with concurrent appends."""
        if not events:
            return []
        return self._group.submit(tuple(events))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repo, name)
