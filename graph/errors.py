"""Classification of driver errors for callers outside graph/ (which never import neo4j)."""

from __future__ import annotations

import neo4j.exceptions

_UNAVAILABLE = (neo4j.exceptions.TransientError, neo4j.exceptions.ServiceUnavailable,
                neo4j.exceptions.SessionExpired)


def is_unavailable(exc: BaseException) -> bool:
    """Whether the store was down, restarting or busy (retry later) rather than the write being bad."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (_UNAVAILABLE, ConnectionError, TimeoutError)):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False
