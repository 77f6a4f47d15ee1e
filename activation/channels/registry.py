"""Build the channel registry from settings: a channel is registered only when configured."""

from __future__ import annotations

from activation.channels.base import ChannelRegistry
from activation.channels.email import EmailChannel
from activation.channels.http import SmsChannel, WebhookChannel
from activation.settings import ActivationSettings


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return get() if get is not None else None


def build_registry(settings: ActivationSettings) -> ChannelRegistry:
    """Senders for every channel whose endpoint (and credentials) are set."""
    reg = ChannelRegistry()
    s = settings
    if s.smtp_host:
        reg.register(EmailChannel(host=s.smtp_host, port=s.smtp_port, sender=s.smtp_from, starttls=s.smtp_starttls,
                                  use_ssl=s.smtp_ssl, user=s.smtp_user, password=_secret(s.smtp_password),
                                  timeout=s.smtp_timeout_seconds))
    token = _secret(s.line_channel_token)
    if s.line_base_url and token:
        from activation.channels.line import (
            LineChannel,  # the LINE SDK is large: imported only when used
        )

        reg.register(LineChannel(base_url=s.line_base_url, token=token, timeout=s.http_timeout_seconds))
    password = _secret(s.sms_password)
    if s.sms_base_url and s.sms_username and password:
        reg.register(SmsChannel(base_url=s.sms_base_url, username=s.sms_username, password=password,
                                timeout=s.http_timeout_seconds))
    if s.webhooks:
        reg.register(WebhookChannel(destinations=s.webhooks, timeout=s.http_timeout_seconds))
    return reg
