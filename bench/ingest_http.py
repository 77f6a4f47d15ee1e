"""End-to-end ingestion benchmark: HTTP /v1/batch vs a bare UNWIND ceiling on the same Neo4j.

Workload: batches of 100 mixed identify/track/page events; about 20% of the events are
identify calls that stitch an anonymous cookie to a known user (attach or merge).

  HTTP:    N client threads post batches to a real uvicorn server (`veil serve`), which
           validates, normalises, resolves identities under lock and writes the graph.
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
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.container import build_container
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


def run_http(events: list[dict], key: str, port: int, concurrency: int, batch: int) -> dict:
    """Post all batches over HTTP; events/s and per-batch latencies."""
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def post(client: httpx.Client, b: list[dict]) -> None:
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
        list(pool.map(lambda ib: post(clients[ib[0] % concurrency], ib[1]), enumerate(batches)))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="alternating HTTP/ceiling rounds; medians reported")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    container = build_container()
    apply_migrations(container.driver, database=container.neo4j.database)
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(args.port), "--workers", str(args.workers)],
        cwd=ROOT, env={**os.environ, "VEIL_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        events = make_events(args.events, seed=1)
        identifies = sum(1 for e in events if e["type"] == "identify")
        http_runs, ceiling_runs = [], []
        for rnd in range(args.rounds):
            ws = f"bench-{uuid.uuid4().hex[:8]}"
            key = container.sources.create(workspace=ws, name="bench").write_key
            # Warm-up on a throwaway slice so JIT/caches are hot in every round.
            run_http(make_events(1000, seed=99 + rnd), key, args.port, args.concurrency, args.batch)
            http_runs.append(run_http(events, key, args.port, args.concurrency, args.batch))
            ceiling_runs.append(run_ceiling(container, events, f"ceil-{uuid.uuid4().hex[:8]}",
                                            args.concurrency, args.batch))
            print(f"round {rnd + 1}: http {http_runs[-1]['events_per_s']:.0f} ev/s, "
                  f"ceiling {ceiling_runs[-1]['events_per_s']:.0f} ev/s", file=sys.stderr)
        merges = container.profiles.counts(workspace=ws)
    finally:
        server.terminate()
        server.wait(timeout=30)
        container.close()

    def med(runs, k):
        return statistics.median(r[k] for r in runs)

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores",
        "params": vars(args), "identify_share": identifies / len(events),
        "last_round_profiles": merges,
        "http": {k: med(http_runs, k) for k in ("events_per_s", "p50_ms", "p99_ms", "seconds")},
        "ceiling": {k: med(ceiling_runs, k) for k in ("events_per_s", "p50_ms", "p99_ms", "seconds")},
        "rounds": {"http": http_runs, "ceiling": ceiling_runs},
    }
    result["ratio_to_ceiling"] = result["http"]["events_per_s"] / result["ceiling"]["events_per_s"]
    out = ROOT / "bench" / "results" / "ingest_http.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nIngestion, {args.events} events x {args.rounds} rounds, batches of {args.batch}, "
          f"{args.concurrency} client threads, {identifies / len(events):.0%} identify/stitch (medians)")
    print(f"{'path':<10}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for name in ("http", "ceiling"):
        r = result[name]
        print(f"{name:<10}{r['events_per_s']:>12.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}")
    print(f"ratio http/ceiling: {result['ratio_to_ceiling']:.2f}   (written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
