"""LINE Messaging API through the official `line-bot-sdk` (push with the retry key)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    TextMessage,
)

from activation.channels.base import Message, Outcome, SendResult


class LineChannel:
    """Push messages to LINE user ids; `X-Line-Retry-Key` makes a retried push a no-op (409)."""

    name: ClassVar[str] = "line"
    consent_channel: ClassVar[str] = "line"
    address_type: ClassVar[str | None] = "line_user_id"
    idempotent: ClassVar[bool] = True

    def __init__(self, *, base_url: str, token: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.config = Configuration(host=self.base_url, access_token=token)
        self.timeout = timeout
        self._local = threading.local()

    def describe(self) -> dict[str, Any]:
        """Where it sends (no secrets)."""
        return {"name": self.name, "provider": "line-messaging-api", "endpoint": self.base_url,
                "idempotent": self.idempotent}

    def _api(self) -> MessagingApi:
        api: MessagingApi | None = getattr(self._local, "api", None)
        if api is None:
            api = MessagingApi(ApiClient(self.config))
            self._local.api = api
        return api

    def send(self, message: Message) -> SendResult:
        """Push one text message."""
        if not message.address:
            return SendResult(Outcome.FAILED, reason="no_address")
        request = PushMessageRequest(to=message.address, messages=[TextMessage(text=message.body)])
        try:
            response = self._api().push_message(request, x_line_retry_key=message.idempotency_uuid,
                                                _request_timeout=self.timeout)
        except ApiException as exc:
            status = exc.status or 0
            if status == 409:  # this retry key was accepted before: the message went out once
                return SendResult(Outcome.ACCEPTED, provider_id=message.idempotency_uuid, reason="duplicate_accepted")
            if status == 429 or status >= 500:
                return SendResult(Outcome.RETRY, reason=f"http_{status}")
            return SendResult(Outcome.FAILED, reason=f"http_{status}")
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, urllib3.exceptions.NewConnectionError):
                return SendResult(Outcome.RETRY, reason="line_unreachable")
            return SendResult(Outcome.UNKNOWN, reason="line_no_answer")
        except (urllib3.exceptions.HTTPError, OSError):
            return SendResult(Outcome.UNKNOWN, reason="line_no_answer")
        sent = getattr(response, "sent_messages", None) or []
        provider_id = getattr(sent[0], "id", None) if sent else None
        return SendResult(Outcome.ACCEPTED, provider_id=provider_id or message.idempotency_uuid)
