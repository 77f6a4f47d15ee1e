"""Crash test of the Kafka backend: SIGKILL the broker mid-stream, count acknowledged losses.

8 threads append 20-event requests through the real intake (validation + idempotent producer,
acks=all) to a local broker started by deploy/kafka.sh. After a few seconds the broker is
killed with SIGKILL and restarted; the appenders keep going (failed appends are not
acknowledged and are retried by the client, as an SDK would). At the end the whole topic is
read back and every acknowledged messageId must be there. Prints a table and writes
bench/results/crash_kafka.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson
from confluent_kafka import Consumer, TopicPartition

from collect.intake import LogIntake
from collect.log.kafka import KafkaLog
from collect.log.settings import LogSettings
from collect.rules import load_rules
from collect.service import IngestService
from collect.settings import CollectSettings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--instance", default="test", help="deploy/kafka.sh instance to kill and restart")
    ap.add_argument("--before-kill", type=float, default=5.0, help="seconds of load before the SIGKILL")
    ap.add_argument("--after-restart", type=float, default=5.0, help="seconds of load after the restart")
    args = ap.parse_args()
    topic = f"veil.crash-{uuid.uuid4().hex[:8]}"
    settings = LogSettings(backend="kafka", kafka_bootstrap=args.bootstrap, kafka_topic=topic,
                           kafka_dlq_topic=topic + ".dlq", kafka_group=topic + "-g", kafka_partitions=4)
    klog = KafkaLog(settings)
    # Validation needs no graph: the service's repository is never called by the intake.
    collect = CollectSettings()
    service = IngestService(repo=None, settings=collect, rules=load_rules(None), vault=None)  # type: ignore[arg-type]
    intake = LogIntake(service=service, log=klog)
    acked: list[str] = []
    failed = 0
    lock = threading.Lock()
    stop = threading.Event()

    def load(t: int) -> None:
        nonlocal failed
        n = 0
        while not stop.is_set():
            ids = [f"c{t}-{n}-{j}" for j in range(20)]
            n += 1
            try:
                intake.ingest([{"type": "track", "userId": f"u{t}", "event": "Viewed", "messageId": m} for m in ids],
                              workspace="crash", source="bench")
            except Exception:  # noqa: BLE001 - not acknowledged: the client would retry
                with lock:
                    failed += 1
                time.sleep(0.2)
                continue
            with lock:
                acked.extend(ids)

    threads = [threading.Thread(target=load, args=(t,), daemon=True) for t in range(8)]
    for t in threads:
        t.start()
    time.sleep(args.before_kill)
    pid = int((ROOT / "var" / "kafka" / args.instance / "kafka.pid").read_text())
    acked_at_kill = len(acked)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    for _ in range(300):  # until the kernel has torn the process down
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "start", args.instance], check=True)
    restart_s = time.monotonic() - killed_at
    time.sleep(args.after_restart)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    klog.close()

    seen: set[str] = set()
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": topic + "-verify", "enable.auto.commit": False})
    try:
        meta = c.list_topics(topic, timeout=30).topics[topic]
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in meta.partitions}
        c.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        remaining = sum(ends.values())
        deadline = time.monotonic() + 120
        while remaining > 0 and time.monotonic() < deadline:
            for msg in c.consume(1000, timeout=1.0):
                if msg.error():
                    continue
                remaining -= 1
                seen.update(e["messageId"] for e in orjson.loads(msg.value())["events"])
    finally:
        c.close()
    lost = set(acked) - seen
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "topic": topic,
              "acknowledged": len(acked), "acknowledged_before_kill": acked_at_kill,
              "failed_appends_during_outage": failed, "broker_restart_seconds": round(restart_s, 1),
              "stored_in_topic": len(seen), "lost": len(lost)}
    out = ROOT / "bench" / "results" / "crash_kafka.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{'acknowledged':<34}{len(acked):>10}")
    print(f"{'  of which before the SIGKILL':<34}{acked_at_kill:>10}")
    print(f"{'appends refused during the outage':<34}{failed:>10}")
    print(f"{'in the topic afterwards':<34}{len(seen):>10}")
    print(f"{'acknowledged and lost':<34}{len(lost):>10}   (written to {out.relative_to(ROOT)})")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
