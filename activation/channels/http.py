"""HTTP providers: SMS (Mitake-style form API) and webhooks signed per Standard Webhooks."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from standardwebhooks.webhooks import Webhook

from activation.channels.base import Message, Outcome, SendResult

GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
           "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def sms_segments(text: str) -> int:
    """How many SMS segments a text takes: GSM-7 160/153 per part, else UCS-2 70/67 (Chinese)."""
    if all(ch in GSM7 for ch in text):
        single, multi = 160, 153
    else:
        single, multi = 70, 67
    n = len(text)
    if n <= single:
        return 1
    return -(-n // multi)


def _http_outcome(exc_or_status: int | Exception) -> SendResult:
    if isinstance(exc_or_status, httpx.ConnectError):
        return SendResult(Outcome.RETRY, reason="provider_unreachable")
    if isinstance(exc_or_status, Exception):
        return SendResult(Outcome.UNKNOWN, reason="provider_no_answer")
    status = exc_or_status
    if status == 429 or status >= 500:
        return SendResult(Outcome.RETRY, reason=f"http_{status}")
    return SendResult(Outcome.FAILED, reason=f"http_{status}")


class _Http:
    """One httpx client per lane thread."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def client(self) -> httpx.Client:
        c: httpx.Client | None = getattr(self._local, "client", None)
        if c is None:
            c = httpx.Client(timeout=self.timeout)
            self._local.client = c
        return c


class SmsChannel(_Http):
    """Mitake-style SMS: form POST with `clientid` = the ledger key, so a repeat is `Duplicate=Y`."""

    name: ClassVar[str] = "sms"
    consent_channel: ClassVar[str] = "sms"
    address_type: ClassVar[str | None] = "phone"
    idempotent: ClassVar[bool] = True

    def __init__(self, *, base_url: str, username: str, password: str, timeout: float = 5.0) -> None:
        super().__init__(timeout)
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password

    def describe(self) -> dict[str, Any]:
        """Where it sends (no secrets)."""
        return {"name": self.name, "provider": "mitake-form-api", "endpoint": self.base_url,
                "idempotent": self.idempotent, "segment_chars": {"gsm7": 160, "ucs2": 70}}

    def send(self, message: Message) -> SendResult:
        """POST one SMS; the answer's statuscode decides."""
        if not message.address:
            return SendResult(Outcome.FAILED, reason="no_address")
        form = {"username": self.username, "password": self.password, "dstaddr": message.address,
                "smbody": message.body, "clientid": message.idempotency_uuid}
        try:
            r = self.client().post(f"{self.base_url}/api/mtk/SmSend", params={"CharsetURL": "UTF-8"}, data=form)
        except httpx.HTTPError as exc:
            return _http_outcome(exc)
        if r.status_code != 200:
            return _http_outcome(r.status_code)
        fields = dict(line.split("=", 1) for line in r.text.splitlines() if "=" in line)
        code = fields.get("statuscode", "")
        if code in ("0", "1", "2", "4"):
            reason = "duplicate_accepted" if fields.get("Duplicate") == "Y" else "accepted"
            return SendResult(Outcome.ACCEPTED, provider_id=fields.get("msgid"), reason=reason)
        return SendResult(Outcome.FAILED, reason=f"sms_status_{code or 'missing'}")


class WebhookChannel(_Http):
    """Signed JSON POSTs (Standard Webhooks); `webhook-id` is the ledger key, so receivers dedupe.

    A destination refused `disable_after` times in a row is disabled until the process restarts.
    """

    name: ClassVar[str] = "webhook"
    consent_channel: ClassVar[str] = "any"
    address_type: ClassVar[str | None] = None
    idempotent: ClassVar[bool] = True

    def __init__(self, *, destinations: dict[str, dict[str, Any]], timeout: float = 5.0,
                 disable_after: int = 20) -> None:
        super().__init__(timeout)
        self.destinations = destinations
        self.disable_after = disable_after
        self._failures: dict[str, int] = {}
        self._signers = {name: Webhook(str(d["secret"])) for name, d in destinations.items()}

    def describe(self) -> dict[str, Any]:
        """Destinations and the fields each may receive (no secrets)."""
        return {"name": self.name, "provider": "standard-webhooks", "idempotent": self.idempotent,
                "destinations": {n: {"url": d["url"], "fields": list(d.get("fields", [])),
                                     "disabled": self._failures.get(n, 0) >= self.disable_after}
                                 for n, d in self.destinations.items()}}

    def allowed_fields(self, destination: str) -> list[str]:
        """The fields a destination may receive."""
        return [str(f) for f in self.destinations.get(destination, {}).get("fields", [])]

    def send(self, message: Message) -> SendResult:
        """POST the event to its destination, signed."""
        dest = self.destinations.get(message.destination or "")
        if dest is None:
            return SendResult(Outcome.FAILED, reason="unknown_destination")
        name = message.destination or ""
        if self._failures.get(name, 0) >= self.disable_after:
            return SendResult(Outcome.FAILED, reason="destination_disabled")
        allowed = set(self.allowed_fields(name))
        body = json.dumps({"type": "journey.message", "send_key": message.key, "profile_id": message.profile_id,
                           "subject": message.subject, "body": message.body,
                           "fields": {k: v for k, v in message.fields.items() if k in allowed}},
                          ensure_ascii=False, sort_keys=True, default=str)
        ts = int(time.time())
        signature = self._signers[name].sign(msg_id=message.key, timestamp=datetime.fromtimestamp(ts, UTC),
                                             data=body)
        headers = {"content-type": "application/json", "webhook-id": message.key,
                   "webhook-timestamp": str(ts), "webhook-signature": signature}
        try:
            r = self.client().post(str(dest["url"]), content=body.encode("utf-8"), headers=headers)
        except httpx.HTTPError as exc:
            return _http_outcome(exc)
        if 200 <= r.status_code < 300:
            self._failures[name] = 0
            return SendResult(Outcome.ACCEPTED, provider_id=message.key)
        self._failures[name] = self._failures.get(name, 0) + 1
        return _http_outcome(r.status_code)
