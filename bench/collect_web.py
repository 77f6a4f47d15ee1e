"""The collection API's own cost per event on the browser paths, vs the server-SDK path.

One real API process (`veil serve`, 1 worker, port 8011 by default) on the test Neo4j. The
API's own cost is its process CPU time (utime + stime from /proc, so Neo4j's work is not in it)
divided by the events it stored; wall time per request is shown too. Variants, interleaved
round by round, medians reported:

  sdk-batch     POST /v1/batch, application/json, Basic auth, 20 events  (baseline)
  browser-batch POST /v1/b, text/plain, Origin, writeKey in the body, 20 events, each after a
                CORS preflight (a browser caches preflights; this is the worst case)
  browser-track POST /v1/t, text/plain, Origin, one event per request (analytics.js default)
  preflight     OPTIONS /v1/t alone (cost per preflight)

Prints a table; writes bench/results/collect_web.json. Needs Neo4j (VEIL_NEO4J_URI, default
the `make test` instance).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.container import build_container
from graph.migrations import apply_migrations

ORIGIN = "https://shop.bench.example"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def event(i: int, tag: str) -> dict[str, Any]:
    return {"type": "track", "anonymousId": f"anon-{tag}-{i % 50}", "event": "Product Viewed",
            "messageId": f"{tag}-{i}", "timestamp": "2026-11-01T10:00:00Z",
            "properties": {"product_id": f"p-{i % 30}", "price": 120},
            "context": {"page": {"url": "https://shop.bench.example/p"}, "campaign": {"source": "news"}}}


def run(variant: str, client: httpx.Client, base: str, key: str, n_events: int, pid: int) -> dict[str, float]:
    tag = f"{variant}-{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    browser = {"Origin": ORIGIN, "Content-Type": "text/plain"}
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    requests = 0
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    if variant == "preflight":
        for _ in range(n_events):
            assert client.options(f"{base}/v1/t", headers=pre).status_code == 204
        requests = n_events
    elif variant == "browser-track":
        for i in range(n_events):
            body = json.dumps({**event(i, tag), "writeKey": key})
            assert client.post(f"{base}/v1/t", content=body, headers=browser).status_code == 200
        requests = n_events
    else:
        for start in range(0, n_events, 20):
            batch = [event(i, tag) for i in range(start, min(start + 20, n_events))]
            if variant == "sdk-batch":
                r = client.post(f"{base}/v1/batch", json={"batch": batch}, headers=auth)
            else:
                assert client.options(f"{base}/v1/b", headers=pre).status_code == 204
                r = client.post(f"{base}/v1/b", content=json.dumps({"batch": batch, "writeKey": key}),
                                headers=browser)
            assert r.status_code == 200 and r.json()["stored"] == len(batch), r.text
            requests += 1
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return {"cpu_us_per_event": cpu / n_events * 1e6, "wall_ms_per_request": wall / requests * 1e3,
            "events_per_s": n_events / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2000, help="events per variant per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=8011)
    args = ap.parse_args()
    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    container = build_container()
    apply_migrations(container.driver, database=container.neo4j.database)
    ws = f"bench-web-{uuid.uuid4().hex[:8]}"
    new = container.sources.create(workspace=ws, name="bench-web")
    container.sources.set_allowed_origins(source_id=new.source.id, origins=[ORIGIN])
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(args.port), "--workers", "1"],
        cwd=ROOT, env={**os.environ, "VEIL_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    variants = ("sdk-batch", "browser-batch", "browser-track", "preflight")
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        with httpx.Client(timeout=30) as client:
            for v in variants:  # warm-up
                run(v, client, base, new.write_key, 200, server.pid)
            for rnd in range(args.rounds):
                for v in variants:
                    runs[v].append(run(v, client, base, new.write_key, args.events, server.pid))
                print(f"round {rnd + 1}: " + ", ".join(
                    f"{v} {runs[v][-1]['cpu_us_per_event']:.0f} us" for v in variants), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
        container.close()

    med = {v: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for v, rs in runs.items()}
    base_cpu = med["sdk-batch"]["cpu_us_per_event"]
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{os.cpu_count()} cores",
              "params": vars(args), "median": med,
              "cpu_ratio_to_sdk_batch": {v: m["cpu_us_per_event"] / base_cpu for v, m in med.items()},
              "rounds": runs}
    out = ROOT / "bench" / "results" / "collect_web.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nCollection API own cost, {args.events} events x {args.rounds} rounds (medians; API CPU excludes Neo4j)")
    print(f"{'variant':<15}{'API CPU us/event':>18}{'x sdk-batch':>13}{'ms/request':>12}{'events/s':>10}")
    for v, m in med.items():
        unit = "preflight" if v == "preflight" else "event"
        print(f"{v:<15}{m['cpu_us_per_event']:>18.0f}{m['cpu_us_per_event'] / base_cpu:>13.2f}"
              f"{m['wall_ms_per_request']:>12.2f}{m['events_per_s']:>10.0f}  (per {unit})")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
