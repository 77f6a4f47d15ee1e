"""E-mail over SMTP (TLS and AUTH optional, SMTPUTF8 for non-ASCII, RFC 8058 one-click unsubscribe)."""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, ClassVar

from activation.channels.base import Message, Outcome, SendResult

IDLE_CHECK_SECONDS = 5.0


class EmailChannel:
    """Sends through one SMTP server, keeping one connection per lane thread."""

    name: ClassVar[str] = "email"
    consent_channel: ClassVar[str] = "email"
    address_type: ClassVar[str | None] = "email"
    # SMTP has no duplicate protection of its own: an unknown outcome is never retried.
    idempotent: ClassVar[bool] = False

    def __init__(self, *, host: str, port: int, sender: str, starttls: bool = False, use_ssl: bool = False,
                 user: str | None = None, password: str | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.use_ssl = starttls, use_ssl
        self.user, self.password, self.timeout = user, password, timeout
        self._local = threading.local()

    def describe(self) -> dict[str, Any]:
        """Where it sends (no secrets)."""
        return {"name": self.name, "provider": "smtp", "endpoint": f"{self.host}:{self.port}",
                "tls": "ssl" if self.use_ssl else ("starttls" if self.starttls else "none"),
                "auth": self.user is not None, "idempotent": self.idempotent}

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if self.use_ssl:
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        conn.ehlo()
        if self.starttls:
            conn.starttls(context=context)
            conn.ehlo()
        if self.user is not None:
            conn.login(self.user, self.password or "")
        return conn

    def _conn(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is not None:
            # A connection used moments ago is alive; an idle one is checked (servers drop idle clients).
            if time.monotonic() - getattr(self._local, "used", 0.0) < IDLE_CHECK_SECONDS:
                return conn
            try:
                if conn.noop()[0] == 250:
                    return conn
            except smtplib.SMTPException:
                pass
            except OSError:
                pass
        conn = self._connect()
        self._local.conn = conn
        return conn

    def _used(self) -> None:
        self._local.used = time.monotonic()

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def build(self, message: Message) -> EmailMessage:
        """The MIME message: Message-ID from the ledger key, one-click unsubscribe headers."""
        msg = EmailMessage()
        name, addr = parseaddr(self.sender)
        local, _, domain = addr.partition("@")
        msg["From"] = Address(display_name=name, username=local, domain=domain)
        msg["To"] = message.address or ""
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{message.idempotency_uuid}@{domain or 'veil.localhost'}>"
        msg["X-Veil-Send-Key"] = message.key
        if message.unsubscribe_url:
            msg["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(message.body)
        return msg

    def send(self, message: Message) -> SendResult:
        """Send one message; connection failures before DATA are retryable, a lost answer is unknown."""
        if not message.address:
            return SendResult(Outcome.FAILED, reason="no_address")
        msg = self.build(message)
        needs_utf8 = not (message.address.isascii() and self.sender.isascii())
        try:
            conn = self._conn()
        except (OSError, smtplib.SMTPException):
            self._drop()
            return SendResult(Outcome.RETRY, reason="smtp_unreachable")
        try:
            refused = conn.send_message(msg, mail_options=["SMTPUTF8"] if needs_utf8 else ())
        except smtplib.SMTPRecipientsRefused:
            return SendResult(Outcome.FAILED, reason="recipient_refused")
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            self._drop()
            temporary = 400 <= exc.smtp_code < 500
            return SendResult(Outcome.RETRY if temporary else Outcome.FAILED,
                              reason="smtp_temporary" if temporary else "smtp_refused")
        except smtplib.SMTPNotSupportedError:
            return SendResult(Outcome.FAILED, reason="smtputf8_not_supported")
        except (OSError, smtplib.SMTPException):
            # The DATA may have been delivered before the connection broke: never blindly resent.
            self._drop()
            return SendResult(Outcome.UNKNOWN, reason="smtp_no_answer")
        self._used()
        if refused:
            return SendResult(Outcome.FAILED, reason="recipient_refused")
        return SendResult(Outcome.ACCEPTED, provider_id=msg["Message-ID"].strip("<>"), reason="accepted")
