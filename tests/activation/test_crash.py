"""A worker killed mid-send causes no duplicate: the real `veil activation worker` runs as a
subprocess and is SIGKILLed by the receiver the moment the message arrives, before the worker can
record the provider's answer. Recovery retries LINE with the same retry key (the receiver answers
409: already accepted) and marks the e-mail unknown instead of sending it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.activation.conftest import LINE_TOKEN, ctx_of, person, track

ROOT = Path(__file__).resolve().parents[2]


def test_worker_killed_mid_send_sends_once(container, workspace, act, sinks):
    store, smtp, http = sinks
    d = {"name": "kill test", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
        {"id": "hello_line", "type": "send", "channel": "line", "body": "hello"},
        {"id": "hello_mail", "type": "send", "channel": "email", "subject": "hi", "body": "hello"}]}
    j = act.create(ctx_of(container, workspace, "marketer"), definition=d)
    act.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
    person(container, workspace, "k1", email="k1@example.com", line="U" + "ab" * 16)
    track(container, workspace, "k1", "Signed Up", datetime.now(UTC))

    env = {**os.environ, "VEIL_ENV": "test", "VEIL_NEO4J_URI": container.neo4j.uri,
           "VEIL_ACTIVATION_SMTP_HOST": "127.0.0.1", "VEIL_ACTIVATION_SMTP_PORT": str(smtp.port),
           "VEIL_ACTIVATION_LINE_BASE_URL": http.url, "VEIL_ACTIVATION_LINE_CHANNEL_TOKEN": LINE_TOKEN,
           "VEIL_ACTIVATION_UNSUBSCRIBE_SECRET": "kill-test-secret", "VEIL_ACTIVATION_QUIET_START": "00:00",
           "VEIL_ACTIVATION_QUIET_END": "00:00", "VEIL_ACTIVATION_LEASE_SECONDS": "2",
           "VEIL_ACTIVATION_POLL_SECONDS": "0.1", "VEIL_ANALYTICS_REALTIME_SEGMENTS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "activation", "worker", "-w", workspace],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Each receiver takes its message and holds its answer; once both have arrived the worker is
    # killed, so both sends are in flight, accepted by the provider but not yet recorded.
    arrived: set[str] = set()
    both = threading.Event()

    def on_add(item: dict) -> None:
        arrived.add(item["kind"])
        if len(arrived) == 2:
            os.kill(proc.pid, signal.SIGKILL)
            both.set()
        else:
            both.wait(60)

    store.on_add = on_add
    try:
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    store.on_add = None
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    assert len(store.of("line")) == 1 and len(store.of("email")) == 1
    sends = act.sends(ctx_of(container, workspace, "marketer"), journey_id=j.id)
    assert {s.channel: s.state for s in sends} == {"line": "sending", "email": "sending"}

    time.sleep(2.1)  # the dead worker's lease runs out
    report = act.worker(workspace).tick(datetime.now(UTC) + timedelta(seconds=1))
    assert report.recovered == 2
    sends = act.sends(ctx_of(container, workspace, "marketer"), journey_id=j.id)
    # LINE: retried with the same retry key, the provider answers "already accepted".
    # E-mail: SMTP cannot tell, so the outcome stays unknown and is never sent blindly again.
    assert {s.channel: (s.state, s.reason) for s in sends} == {
        "line": ("accepted", "duplicate_accepted"), "email": ("unknown", "worker_lost")}
    act.worker(workspace).tick(datetime.now(UTC) + timedelta(minutes=5))
    assert len(store.of("line")) == 1 and len(store.of("email")) == 1  # exactly one message each
