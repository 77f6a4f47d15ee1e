"""The API side of the durable log: validate a request, append its good events, answer.

The request thread normalises every event (so a bad one is answered at once, by index, with
its code) and appends the good ones with what is needed to normalise them the same way again
(receivedAt, sentAt, the forced type, Sec-GPC). A generated messageId is pinned into the
stored event, so a redrain after a crash writes the same Interaction, not a second one.
Trait-catalog scanning, suppression and the graph write happen in the writers
(collect/writer.py); they need Neo4j, and acks must not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from collect.log.base import Appended
from collect.service import IngestResult, IngestService


class Appender(Protocol):
    """What the intake needs of a log backend."""

    def append(self, *, workspace: str, source: str, received_at: str, sent_at: str | None,
               forced_type: str | None, sec_gpc: str | None, events: list[dict[str, Any]],
               keys: list[str]) -> Appended: ...


class LogIntake:
    """Same call as `IngestService.ingest`, answered after a durable append instead of the graph commit."""

    def __init__(self, *, service: IngestService, log: Appender) -> None:
        self.service = service
        self.log = log

    def ingest(
        self, raw_events: list[Any], *, workspace: str, source: str, received_at: datetime | None = None,
        sent_at: datetime | None = None, forced_type: str | None = None, sec_gpc: str | None = None,
    ) -> IngestResult:
        """Validate; append the good events (raises LogFull past the high-water mark)."""
        received_at = received_at or datetime.now(UTC)
        accepted, result, _signals = self.service.validate(
            raw_events, received_at=received_at, sent_at=sent_at, forced_type=forced_type, sec_gpc=sec_gpc)
        if not accepted:
            return result
        events: list[dict[str, Any]] = []
        for i, ev in accepted:
            raw = raw_events[i]
            events.append(raw if raw.get("messageId") == ev.message_id else {**raw, "messageId": ev.message_id})
        out = self.log.append(
            workspace=workspace, source=source, received_at=received_at.isoformat(),
            sent_at=sent_at.isoformat() if sent_at else None, forced_type=forced_type, sec_gpc=sec_gpc,
            events=events, keys=[f"{workspace}|{ev.message_id}" for _, ev in accepted])
        result.stored += out.stored
        result.duplicates += out.duplicates
        return result
