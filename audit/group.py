"""An audit store that group-commits concurrent appends (one transaction per group).

Every read appends an audit record before it answers, and appends serialise on the chain
head. One append per transaction caps reads at the commit rate; grouping the appends waiting
at one moment into `append_many` keeps the chain gap-free and each caller still returns only
once its own record is durable.
"""

from __future__ import annotations

from typing import Any

from audit.chain import StoredAudit
from audit.events import AuditEvent
from graph.group_commit import GroupCommit


class GroupCommitAuditStore:
    """Wraps an AuditRepository: `append` is grouped, everything else is delegated."""

    def __init__(self, repo: Any, *, max_size: int = 500) -> None:
        self.repo = repo
        self._group: GroupCommit[AuditEvent, StoredAudit] = GroupCommit(
            repo.append_many, name="veil-audit-writer", max_size=max_size)

    def append(self, event: AuditEvent) -> StoredAudit:
        """Durably append one event (grouped with concurrent appends)."""
        return self._group.submit(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repo, name)
