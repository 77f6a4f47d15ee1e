"""What every channel sender is, what it is given and what it answers; the registry of senders."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from activation.errors import ChannelNotConfigured


class Outcome(StrEnum):
    """How a provider answered one send."""

    ACCEPTED = "accepted"  # the provider took it (or already had it: a duplicate of the same key)
    FAILED = "failed"  # the provider refused it; retrying will not help
    UNKNOWN = "unknown"  # no answer (timeout, dropped connection): it may or may not have gone out
    RETRY = "retry"  # not taken this time (connection refused, 4xx, 429/5xx): safe to try again


@dataclass(frozen=True)
class Message:
    """One rendered message for one recipient; built at send time, never stored."""

    key: str  # the ledger key: the provider's duplicate protection gets it where one exists
    profile_id: str
    address: str | None  # e-mail address, E.164 phone, LINE user id; None for webhooks
    subject: str
    body: str
    fields: Mapping[str, Any] = field(default_factory=dict)  # carried by webhooks (allowed fields only)
    destination: str | None = None  # webhook destination name
    unsubscribe_url: str | None = None

    @property
    def idempotency_uuid(self) -> str:
        """A UUID derived from the key (LINE's retry key must be a UUID)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "veil-send:" + self.key))


@dataclass(frozen=True)
class SendResult:
    """A provider's answer: outcome, its message id and a short reason code."""

    outcome: Outcome
    provider_id: str | None = None
    reason: str = "accepted"


class ChannelSender(Protocol):
    """A named sender. `idempotent` = the provider drops a repeat of the same key, so a send whose
    outcome is unknown (the worker died mid-call) may be retried with the same key."""

    name: ClassVar[str]
    consent_channel: ClassVar[str]  # the consent.model.Channel the gate is asked about
    address_type: ClassVar[str | None]  # identifier type holding the address (None: no address)
    idempotent: ClassVar[bool]

    def send(self, message: Message) -> SendResult:
        """Hand one message to the provider."""
        ...

    def describe(self) -> dict[str, Any]:
        """What this sender is and where it sends (no secrets)."""
        ...


class ChannelRegistry:
    """Named senders; a step's channel is looked up here."""

    def __init__(self, senders: Iterable[ChannelSender] = ()) -> None:
        self._senders: dict[str, ChannelSender] = {}
        for s in senders:
            self.register(s)

    def register(self, sender: ChannelSender) -> None:
        """Add (or replace) a sender under its name."""
        self._senders[sender.name] = sender

    def get(self, name: str) -> ChannelSender:
        """The sender of a channel, else ChannelNotConfigured."""
        sender = self._senders.get(name)
        if sender is None:
            raise ChannelNotConfigured(f"channel {name!r} has no configured provider "
                                       f"(configured: {', '.join(sorted(self._senders)) or 'none'})",
                                       field="channel")
        return sender

    def names(self) -> list[str]:
        """Registered channel names."""
        return sorted(self._senders)

    def describe(self) -> list[dict[str, Any]]:
        """Every sender's self-description."""
        return [self._senders[n].describe() for n in self.names()]
