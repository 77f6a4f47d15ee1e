"""Local sinks that stand in for providers: a real SMTP server (aiosmtpd) and one HTTP server
speaking LINE's push API, a Mitake-style SMS form API and Standard Webhooks receivers. Used by
the tests and by the demo (`veil activation sinks`), so messages can be watched without accounts.
They keep what they received in memory and list it at `GET /messages`."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class SinkStore:
    """What the sinks received, in order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[dict[str, Any]] = []
        self.seen: set[tuple[str, str]] = set()
        self.on_add: Callable[[dict[str, Any]], None] | None = None  # called after storing, before replying

    def add(self, item: dict[str, Any], dedupe: tuple[str, str] | None = None) -> bool:
        """Store unless `dedupe` (kind, key) was seen; True when stored."""
        with self._lock:
            if dedupe is not None:
                if dedupe in self.seen:
                    return False
                self.seen.add(dedupe)
            self.items.append({**item, "received_at": time.time()})
        if self.on_add is not None:
            self.on_add(item)
        return True

    def of(self, kind: str) -> list[dict[str, Any]]:
        """Items of one kind."""
        with self._lock:
            return [i for i in self.items if i["kind"] == kind]


class _SmtpHandler:
    def __init__(self, store: SinkStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        item = {"kind": "email", "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "subject": str(msg["Subject"] or ""), "message_id": str(msg["Message-ID"] or ""),
                "send_key": str(msg["X-Veil-Send-Key"] or ""),
                "list_unsubscribe": str(msg["List-Unsubscribe"] or ""),
                "list_unsubscribe_post": str(msg["List-Unsubscribe-Post"] or ""),
                "body": body.get_content() if body is not None else "", "smtputf8": "SMTPUTF8" in envelope.mail_options}
        self.store.add(item)
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server on loopback (SMTPUTF8 enabled)."""

    def __init__(self, store: SinkStore, *, port: int) -> None:
        self.store = store
        self.controller = Controller(_SmtpHandler(store), hostname="127.0.0.1", port=port,
                                     enable_SMTPUTF8=True)
        self.port = port

    def start(self) -> SmtpSink:
        """Start serving."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.controller.stop()


class _HttpHandler(BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = (json.dumps(body, ensure_ascii=False) if content_type == "application/json" else str(body)).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urlparse(self.path).path == "/messages":
            self._reply(200, self.server.store.items)
        else:
            self._reply(404, {"message": "not found"})

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        delay = self.server.delays.get(path.split("/")[1] if path.count("/") else path, 0.0)
        if delay:
            time.sleep(delay)
        if self.server.before is not None:
            self.server.before(path)
        if path == "/v2/bot/message/push":
            self._line(raw)
        elif path == "/api/mtk/SmSend":
            self._sms(raw)
        elif path.startswith("/webhooks/"):
            self._webhook(path.rsplit("/", 1)[1], raw)
        else:
            self._reply(404, {"message": "not found"})
        if self.server.after is not None:
            self.server.after(path)

    def _line(self, raw: bytes) -> None:
        if self.headers.get("authorization") != f"Bearer {self.server.line_token}":
            self._reply(401, {"message": "Authentication failed"})
            return
        body = json.loads(raw or b"{}")
        retry = self.headers.get("x-line-retry-key")
        stored = self.server.store.add({"kind": "line", "to": body.get("to"), "messages": body.get("messages", []),
                                        "retry_key": retry}, dedupe=("line", retry) if retry else None)
        if not stored:
            self._reply(409, {"message": "The retry key is already accepted", "sentMessages": []})
            return
        self._reply(200, {"sentMessages": [{"id": uuid.uuid4().hex[:18], "quoteToken": uuid.uuid4().hex}]})

    def _sms(self, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
        if (form.get("username"), form.get("password")) != self.server.sms_login:
            self._reply(200, "[1]\r\nstatuscode=p\r\nError=login failed\r\n", "text/plain")
            return
        client = form.get("clientid")
        stored = self.server.store.add({"kind": "sms", "to": form.get("dstaddr"), "body": form.get("smbody"),
                                        "clientid": client}, dedupe=("sms", client) if client else None)
        dup = "" if stored else "Duplicate=Y\r\n"
        self._reply(200, f"[1]\r\nmsgid={uuid.uuid4().hex[:10]}\r\nstatuscode=1\r\nAccountPoint=98\r\n{dup}",
                    "text/plain")

    def _webhook(self, name: str, raw: bytes) -> None:
        secret = self.server.webhook_secrets.get(name)
        if secret is None:
            self._reply(404, {"message": "unknown webhook"})
            return
        try:
            payload = Webhook(secret).verify(raw, dict(self.headers.items()))
        except WebhookVerificationError:
            self._reply(401, {"message": "bad signature"})
            return
        wid = self.headers.get("webhook-id") or ""
        self.server.store.add({"kind": "webhook", "destination": name, "webhook_id": wid, "payload": payload},
                              dedupe=("webhook", wid))
        self._reply(204, "", "text/plain")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    store: SinkStore
    line_token: str
    sms_login: tuple[str, str]
    webhook_secrets: dict[str, str]
    delays: dict[str, float]
    before: Callable[[str], None] | None
    after: Callable[[str], None] | None


class HttpSinks:
    """LINE push, SMS form API and webhook receivers on one loopback port."""

    def __init__(self, store: SinkStore, *, port: int, line_token: str, sms_login: tuple[str, str],
                 webhook_secrets: dict[str, str]) -> None:
        self.server = _HttpServer(("127.0.0.1", port), _HttpHandler)
        self.server.store, self.server.line_token = store, line_token
        self.server.sms_login, self.server.webhook_secrets = sms_login, webhook_secrets
        self.server.delays, self.server.before, self.server.after = {}, None, None
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="http-sinks")

    def start(self) -> HttpSinks:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
