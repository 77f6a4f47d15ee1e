"""Signed one-click unsubscribe links (RFC 8058) and the consent withdrawal they cause."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from activation.errors import UnsubscribeError
from consent.model import Channel, ConsentRecord, ConsentStatus, Jurisdiction, LawfulBasis, Purpose

KEY_FILE = Path("var/activation-unsubscribe.key")


def load_or_create_key(secret: str | None, path: Path = KEY_FILE) -> bytes:
    """The signing key: the configured secret, else one generated under var/ on first use (0600)."""
    if secret:
        return secret.encode("utf-8")
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class UnsubscribeToken:
    """Who asked to stop which channel, from which message."""

    workspace: str
    profile_id: str
    channel: str
    send_key: str


class UnsubscribeLinks:
    """Makes and checks the links; the token names ids only (no address)."""

    def __init__(self, *, key: bytes, base_url: str) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")

    def token(self, t: UnsubscribeToken) -> str:
        """workspace|profile|channel|send_key, signed."""
        payload = f"{t.workspace}|{t.profile_id}|{t.channel}|{t.send_key}".encode()
        sig = hmac.new(self.key, payload, hashlib.sha256).digest()[:16]
        return f"{_b64(payload)}.{_b64(sig)}"

    def url(self, t: UnsubscribeToken) -> str:
        """The List-Unsubscribe URL."""
        return f"{self.base_url}/v1/unsubscribe/{self.token(t)}"

    def parse(self, token: str) -> UnsubscribeToken:
        """A verified token, else UnsubscribeError."""
        try:
            payload_b64, sig_b64 = token.split(".", 1)
            payload, sig = _unb64(payload_b64), _unb64(sig_b64)
        except ValueError as exc:
            raise UnsubscribeError("malformed unsubscribe link", field="token") from exc
        good = hmac.new(self.key, payload, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(good, sig):
            raise UnsubscribeError("unsubscribe link signature does not match", field="token")
        parts = payload.decode("utf-8", "replace").split("|")
        if len(parts) != 4:
            raise UnsubscribeError("malformed unsubscribe link", field="token")
        return UnsubscribeToken(*parts)


def withdrawal(*, profile_id: str, channel: str, source: str, jurisdiction: Jurisdiction,
               evidence: dict[str, str] | None = None, now: datetime | None = None) -> ConsentRecord:
    """A marketing withdrawal record for one channel (an unsubscribe, STOP, a LINE unfollow)."""
    return ConsentRecord(
        id=f"c_{uuid.uuid4().hex}", subject=profile_id, purpose=Purpose.marketing, channel=Channel(channel),
        status=ConsentStatus.withdrawn, lawful_basis=LawfulBasis.consent, source=source,
        captured_at=now or datetime.now(UTC), jurisdiction=jurisdiction, evidence=evidence)
