"""End-to-end ingestion benchmark: HTTP /v1/batch, before/after the durable log, vs a bare
UNWIND ceiling on the same Neo4j, all in the same run.

Workload: batches of 100 mixed identify/track/page events; about 20% of the events are
identify calls that stitch an anonymous cookie to a known user (attach or merge).

  direct:  `veil serve` with VEIL_LOG_BACKEND=direct (before): validates, resolves identities
           under lock, writes the graph and only then answers.
  log:     `veil serve` with the embedded durable log (after): validates, appends to SQLite
           (WAL, synchronous=FULL, group commit) and answers; its writer drains into Neo4j.
           Reported twice: acks (events/s and latency as the clients see them) and drained
           (events/s from the first post until everything is in the graph).
  paced:   the log server at a fixed offered rate (default 3,000 events/s); the age of the
           oldest waiting event, sampled every 50 ms, bounds the end-to-end lag.
  Ceiling: the same events resolved offline in Python (no locks, no reads) and written by
           bare UNWIND statements through the driver, same batch size and concurrency.

Prints a table; writes bench/results/ingest_http.json. Needs a running Neo4j
(VEIL_NEO4J_URI, default the `make test` instance); `make bench` starts one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.container import build_container
from collect.log.kafka import KafkaLog
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from graph.identity import run_write
from graph.migrations import apply_migrations

CEILING_INTERACTIONS = """
UNWIND $rows AS r
MERGE (p:Profile {id: r.profile}) ON CREATE SET p.workspace = $workspace, p.status = 'active'
CREATE (e:Interaction {key: r.key, workspace: $workspace, message_id: r.mid, type: r.type, ts: r.ts})
CREATE (p)-[:PERFORMED]->(e)
"""
CEILING_IDENTIFIERS = """
UNWIND $rows AS r
MERGE (i:Identifier {key: r.key}) ON CREATE SET i.workspace = $workspace, i.type = r.type, i.value = r.value
WITH i, r MATCH (p:Profile {id: r.profile})
MERGE (i)-[:IDENTIFIES]->(p)
"""


def make_events(n: int, seed: int) -> list[dict]:
    """Mixed events: anonymous browsing, ~20% identify calls that stitch, some repeat users."""
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    users = [f"user-{i}" for i in range(max(10, n // 25))]
    events: list[dict] = []
    live_anons: list[str] = []
    i = 0
    while len(events) < n:
        i += 1
        ts = (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        roll = rng.random()
        if roll < 0.2 and live_anons:
            anon = live_anons.pop(rng.randrange(len(live_anons)))
            user = rng.choice(users)
            events.append({"type": "identify", "userId": user, "anonymousId": anon, "messageId": f"b{i}",
                           "timestamp": ts, "traits": {"email": f"{user}@example.com", "tier": rng.choice("ABC")}})
        else:
            if not live_anons or rng.random() < 0.25:
                live_anons.append(uuid.UUID(int=rng.getrandbits(128)).hex)
            anon = rng.choice(live_anons)
            if rng.random() < 0.5:
                events.append({"type": "page", "anonymousId": anon, "messageId": f"b{i}", "timestamp": ts,
                               "name": "Product", "context": {"page": {"url": f"https://shop.example/p/{i % 500}"}}})
            else:
                events.append({"type": "track", "anonymousId": anon, "event": "Product Viewed", "messageId": f"b{i}",
                               "timestamp": ts, "properties": {"product_id": f"p{i % 500}", "price": 120}})
    return events


def run_http(events: list[dict], key: str, port: int, concurrency: int, batch: int,
             rate: float | None = None) -> dict:
    """Post all batches over HTTP (at most `rate` events/s when given); events/s and per-batch latencies."""
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    t_start = time.perf_counter()

    def post(client: httpx.Client, ib: tuple[int, list[dict]]) -> None:
        i, b = ib
        if rate:
            due = t_start + i * batch / rate
            time.sleep(max(0.0, due - time.perf_counter()))
        while True:
            t = time.perf_counter()
            r = client.post(f"http://127.0.0.1:{port}/v1/batch", json={"batch": b}, auth=(key, ""))
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code in (429, 503):
                time.sleep(float(r.headers.get("retry-after", "1")) / 10)
                continue
            r.raise_for_status()
            latencies.append(time.perf_counter() - t)
            return

    clients = [httpx.Client(timeout=60) for _ in range(concurrency)]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda ib: post(clients[ib[0] % concurrency], ib), enumerate(batches)))
    elapsed = time.perf_counter() - start
    for c in clients:
        c.close()
    latencies.sort()
    return {"events": len(events), "seconds": elapsed, "events_per_s": len(events) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "statuses": statuses}


def run_ceiling(container, events: list[dict], workspace: str, concurrency: int, batch: int) -> dict:
    """Resolve offline (dict lookups, no locks), then write with bare UNWINDs."""
    owner: dict[str, str] = {}
    batches = []
    for i in range(0, len(events), batch):
        inter, idents = [], []
        for e in events[i:i + batch]:
            keys = [("user_id", e["userId"])] if "userId" in e else []
            keys.append(("anonymous_id", e["anonymousId"]))
            pid = next((owner[f"{t}|{v}"] for t, v in keys if f"{t}|{v}" in owner), None) or str(uuid.uuid4())
            for t, v in keys:
                k = f"{t}|{v}"
                if k not in owner:
                    owner[k] = pid
                    idents.append({"key": f"{workspace}|{k}", "type": t, "value": v, "profile": pid})
            inter.append({"key": f"{workspace}|{e['messageId']}", "mid": e["messageId"], "type": e["type"],
                          "ts": e["timestamp"], "profile": pid})
        idents.sort(key=lambda r: r["key"])  # same lock order as the real path
        batches.append((inter, idents))
    db = container.neo4j.database

    def write(b) -> float:
        t = time.perf_counter()

        def work(tx):
            tx.run(CEILING_INTERACTIONS, rows=b[0], workspace=workspace).consume()
            if b[1]:
                tx.run(CEILING_IDENTIFIERS, rows=b[1], workspace=workspace).consume()

        run_write(container.driver, db, work)  # same short deadlock retry as the real path
        return time.perf_counter() - t

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        lat = sorted(pool.map(write, batches))
    elapsed = time.perf_counter() - start
    return {"events": len(events), "seconds": elapsed, "events_per_s": len(events) / elapsed,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000}


def start_server(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    """`veil serve` on a port, waited for."""
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env={**os.environ, "VEIL_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(480):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"server on {port} did not become ready")


def run_log(events: list[dict], key: str, port: int, log: SqliteLog | KafkaLog, concurrency: int,
            batch: int) -> tuple[dict, dict]:
    """Acks as the clients see them, then the time until the writer has drained everything."""
    start = time.perf_counter()
    acks = run_http(events, key, port, concurrency, batch)
    if not log.wait_drained(timeout=600, feed=False):
        raise SystemExit("the log did not drain within 600 s")
    elapsed = time.perf_counter() - start
    return acks, {"events": len(events), "seconds": elapsed, "events_per_s": len(events) / elapsed}


def run_paced(events: list[dict], key: str, port: int, log: SqliteLog, concurrency: int, batch: int,
              rate: float) -> dict:
    """Offer a fixed rate; sample the oldest waiting event's age (an upper bound of every event's lag)."""
    ages: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            ages.append(log.stats().oldest_age_seconds)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    acks = run_http(events, key, port, concurrency, batch, rate=rate)
    log.wait_drained(timeout=600, feed=False)
    done.set()
    sampler.join()
    ages.sort()
    return {"offered_events_per_s": rate, "acked_events_per_s": acks["events_per_s"], "ack_p99_ms": acks["p99_ms"],
            "lag_p50_s": statistics.median(ages), "lag_p99_s": ages[min(len(ages) - 1, int(len(ages) * 0.99))],
            "lag_max_s": ages[-1], "samples": len(ages)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="alternating direct/log/ceiling rounds; medians reported")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (with 2+, uvicorn's 5 s worker health check kills workers that start slowly on a loaded machine)")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--paced-rate", type=float, default=3000.0, help="offered events/s of the lag run (0: skip)")
    ap.add_argument("--paced-seconds", type=float, default=15.0)
    ap.add_argument("--kafka", default=os.environ.get("VEIL_KAFKA_BOOTSTRAP"),
                    help="bootstrap servers: also measure the Kafka backend (deploy/kafka.sh start)")
    args = ap.parse_args()
    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    container = build_container(log=LogSettings(backend="direct"))
    apply_migrations(container.driver, database=container.neo4j.database)
    tmp = Path(tempfile.mkdtemp(prefix="veil-bench-log-"))
    log_settings = LogSettings(path=tmp / "events.db")
    log = SqliteLog(log_settings)
    runs: dict[str, list[dict]] = {"direct": [], "log_ack": [], "log_drained": [], "kafka_ack": [],
                                   "kafka_drained": [], "ceiling": []}
    klog = None
    if args.kafka:
        topic = f"veil.bench-{uuid.uuid4().hex[:8]}"
        ksettings = LogSettings(backend="kafka", kafka_bootstrap=args.kafka, kafka_topic=topic,
                                kafka_dlq_topic=topic + ".dlq", kafka_group=topic + "-writers")
        klog = KafkaLog(ksettings)
    paced = None
    events = make_events(args.events, seed=1)
    identifies = sum(1 for e in events if e["type"] == "identify")
    try:
        # One port: the direct server's rounds, then the log server's; a ceiling run after each round.
        for mode in ("direct", "log", *(("kafka",) if klog else ())):
            env = {"direct": {"VEIL_LOG_BACKEND": "direct"},
                   "log": {"VEIL_LOG_BACKEND": "sqlite", "VEIL_LOG_PATH": str(log_settings.path)},
                   "kafka": {"VEIL_LOG_BACKEND": "kafka", **({f"VEIL_LOG_{k.upper()}": v for k, v in (
                       ("kafka_bootstrap", args.kafka), ("kafka_topic", klog.settings.kafka_topic if klog else ""),
                       ("kafka_dlq_topic", klog.settings.kafka_dlq_topic if klog else ""),
                       ("kafka_group", klog.settings.kafka_group if klog else ""))})}}[mode]
            server = start_server(args.port, args.workers, env)
            try:
                for rnd in range(args.rounds):
                    ws = f"bench-{uuid.uuid4().hex[:8]}"
                    key = container.sources.create(workspace=ws, name="bench").write_key
                    # Warm-up on a throwaway slice so caches are hot in every round.
                    run_http(make_events(1000, seed=99 + rnd), key, args.port, args.concurrency, args.batch)
                    if mode in ("log", "kafka"):
                        which = log if mode == "log" else klog
                        assert which is not None
                        which.wait_drained(timeout=600, feed=False)
                        acks, drained = run_log(events, key, args.port, which, args.concurrency, args.batch)
                        runs[f"{mode}_ack"].append(acks)
                        runs[f"{mode}_drained"].append(drained)
                        line = (f"{mode} acks {acks['events_per_s']:.0f} ev/s (p99 {acks['p99_ms']:.0f} ms), "
                                f"drained {drained['events_per_s']:.0f} ev/s")
                    else:
                        runs["direct"].append(run_http(events, key, args.port, args.concurrency, args.batch))
                        line = f"direct {runs['direct'][-1]['events_per_s']:.0f} ev/s"
                    runs["ceiling"].append(run_ceiling(container, events, f"ceil-{uuid.uuid4().hex[:8]}",
                                                       args.concurrency, args.batch))
                    print(f"{mode} round {rnd + 1}: {line}, ceiling {runs['ceiling'][-1]['events_per_s']:.0f} ev/s",
                          file=sys.stderr)
                merges = container.profiles.counts(workspace=ws)
                if mode == "log" and args.paced_rate > 0:
                    ws = f"bench-paced-{uuid.uuid4().hex[:8]}"
                    key = container.sources.create(workspace=ws, name="bench").write_key
                    paced = run_paced(make_events(int(args.paced_rate * args.paced_seconds), seed=5), key,
                                      args.port, log, args.concurrency, args.batch, args.paced_rate)
                    print(f"paced {args.paced_rate:.0f} ev/s: lag p99 {paced['lag_p99_s']:.2f} s", file=sys.stderr)
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        log.close()
        if klog is not None:
            klog.close()
        container.close()

    def med(runs_: list[dict], k: str) -> float:
        return statistics.median(r[k] for r in runs_)

    keys = ("events_per_s", "p50_ms", "p99_ms", "seconds")
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        "params": vars(args), "identify_share": identifies / len(events),
        "last_round_profiles": merges,
        "direct": {k: med(runs["direct"], k) for k in keys},
        "log_ack": {k: med(runs["log_ack"], k) for k in keys},
        "log_drained": {k: med(runs["log_drained"], k) for k in ("events_per_s", "seconds")},
        "ceiling": {k: med(runs["ceiling"], k) for k in keys},
        **({"kafka_ack": {k: med(runs["kafka_ack"], k) for k in keys},
            "kafka_drained": {k: med(runs["kafka_drained"], k) for k in ("events_per_s", "seconds")}}
           if runs["kafka_ack"] else {}),
        "paced": paced,
        "rounds": runs,
    }
    ceiling = result["ceiling"]["events_per_s"]
    result["ratios"] = {"log_ack_vs_direct": result["log_ack"]["events_per_s"] / result["direct"]["events_per_s"],
                        "log_drained_vs_direct": result["log_drained"]["events_per_s"]
                        / result["direct"]["events_per_s"],
                        "direct_vs_ceiling": result["direct"]["events_per_s"] / ceiling,
                        "log_drained_vs_ceiling": result["log_drained"]["events_per_s"] / ceiling}
    out = ROOT / "bench" / "results" / "ingest_http.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nIngestion, {args.events} events x {args.rounds} rounds, batches of {args.batch}, "
          f"{args.concurrency} client threads, {args.workers} API workers, "
          f"{identifies / len(events):.0%} identify/stitch (medians)")
    print(f"{'path':<34}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'target':>22}")
    rows = [("before: direct (ack after graph)", result["direct"], ""),
            ("after: log, acknowledged", result["log_ack"], ">= 5,000/s, p99 <= 50"),
            ("after: log, drained into graph", {**result["log_drained"], "p50_ms": float("nan"),
                                                "p99_ms": float("nan")}, ">= 4,000/s"),
            *((("after: kafka, acknowledged", result["kafka_ack"], ">= 5,000/s, p99 <= 50"),
               ("after: kafka, drained into graph", {**result["kafka_drained"], "p50_ms": float("nan"),
                                                     "p99_ms": float("nan")}, ">= 4,000/s"))
              if "kafka_ack" in result else ()),
            ("bare UNWIND ceiling", result["ceiling"], "")]
    for name, r, target in rows:
        print(f"{name:<34}{r['events_per_s']:>10.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{target:>22}")
    if paced:
        print(f"paced at {paced['offered_events_per_s']:.0f} ev/s: lag p50 {paced['lag_p50_s']:.2f} s, "
              f"p99 {paced['lag_p99_s']:.2f} s, max {paced['lag_max_s']:.2f} s (target p99 <= 2 s)")
    print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in result["ratios"].items())
          + f"   (written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
