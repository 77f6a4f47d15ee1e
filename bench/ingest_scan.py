"""Ingestion throughput with the trait catalog + free-text scanning on versus off, same run.

Workload (seeded): batches of 100 events through `IngestService.ingest` (validation, catalog,
scanning, identity resolution under lock, graph write) against a real Neo4j:
- 30% identify calls with contact traits (email, 手機, 生日, member tier), a third of them with
  a `notes` trait taken from the PII corpus (zh-TW/zh-HK/zh-CN/English, half hold PII);
- 30% track "Support Message" events whose `message` property is a corpus text;
- 40% page / product-view events without free text.

Rounds alternate which mode goes first; each run ingests into a fresh workspace. Reports the
median events/s per mode and the ratio on/off. Writes bench/results/ingest_scan.json.

    VEIL_NEO4J_URI=bolt://127.0.0.1:7688 .venv/bin/python bench/ingest_scan.py [--events 3000 --rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.container import Container, build_container
from api.settings import AppSettings
from graph.migrations import apply_migrations
from privacy.settings import PrivacySettings

CORPUS = ROOT / "privacy" / "corpus" / "pii_corpus.jsonl"
RESULTS = ROOT / "bench" / "results" / "ingest_scan.json"


def make_events(n: int, seed: int) -> list[dict]:
    """The mixed workload described in the module docstring."""
    rng = random.Random(seed)
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    users = [f"u{i}" for i in range(max(10, n // 10))]
    out = []
    for i in range(n):
        ts = (t0 + timedelta(seconds=i)).isoformat()
        user = rng.choice(users)
        roll = rng.random()
        if roll < 0.3:
            traits = {"email": f"{user}@example.com", "手機": f"09{rng.randrange(10**8):08d}",
                      "生日": f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                      "member_tier": rng.choice(["gold", "silver", "basic"])}
            if rng.random() < 0.33:
                traits["notes"] = rng.choice(texts)
            out.append({"type": "identify", "userId": user, "messageId": f"m{i}", "timestamp": ts, "traits": traits})
        elif roll < 0.6:
            out.append({"type": "track", "userId": user, "event": "Support Message", "messageId": f"m{i}",
                        "timestamp": ts, "properties": {"message": rng.choice(texts), "channel_name": "line"}})
        elif roll < 0.8:
            out.append({"type": "page", "userId": user, "messageId": f"m{i}", "timestamp": ts, "name": "Product",
                        "properties": {"path": f"/p/{i % 300}", "title": "Fresh milk"}})
        else:
            out.append({"type": "track", "userId": user, "event": "Product Viewed", "messageId": f"m{i}",
                        "timestamp": ts, "properties": {"product_id": f"p{i % 300}", "price": 120}})
    return out


def run(c: Container, events: list[dict], batch: int) -> dict:
    """Ingest all events into a fresh workspace; events/s and rejected/stored counts."""
    ws = f"bench-scan-{uuid.uuid4().hex[:8]}"
    stored = rejected = 0
    t = time.perf_counter()
    for i in range(0, len(events), batch):
        r = c.ingest.ingest(events[i:i + batch], workspace=ws, source="bench")
        stored += r.stored
        rejected += len(r.rejected)
    elapsed = time.perf_counter() - t
    return {"events_per_s": len(events) / elapsed, "seconds": elapsed, "stored": stored, "rejected": rejected}


def main() -> None:
    """Alternate rounds of scan on / off; print a table and write the JSON results."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    events = make_events(args.events, seed=11)
    app = AppSettings(env="test")
    on = build_container(app=app, privacy=PrivacySettings(ingest_scan=True))
    off = build_container(app=app, privacy=PrivacySettings(ingest_scan=False))
    apply_migrations(on.driver, database=on.neo4j.database)
    modes = {"scan_on": on, "scan_off": off}
    try:
        # Warm-up (one full run per mode): Presidio's engine, driver pools, Neo4j's plans and caches.
        for c in modes.values():
            run(c, events, args.batch)
        results: dict[str, list[dict]] = {m: [] for m in modes}
        for r in range(args.rounds):
            order = list(modes) if r % 2 == 0 else list(reversed(modes))
            for m in order:
                results[m].append(run(modes[m], events, args.batch))
                print(f"round {r + 1} {m:<8} {results[m][-1]['events_per_s']:8.0f} events/s", file=sys.stderr)
    finally:
        on.close()
        off.close()
    med = {m: statistics.median(x["events_per_s"] for x in results[m]) for m in results}
    ratio = med["scan_on"] / med["scan_off"]
    per_round = [a["events_per_s"] / b["events_per_s"] for a, b in zip(results["scan_on"], results["scan_off"],
                                                                        strict=True)]
    free_text = sum(1 for e in events if "notes" in e.get("traits", {}) or "message" in e.get("properties", {}))
    print(f"\n{'mode':<10}{'median events/s':>18}{'runs':>8}")
    for m in ("scan_off", "scan_on"):
        print(f"{m:<10}{med[m]:>18.0f}{len(results[m]):>8}")
    print(f"ratio on/off: {ratio:.2f}, per round {min(per_round):.2f}-{max(per_round):.2f}  "
          f"({free_text}/{len(events)} events carry free text; rejected with scan on: "
          f"{results['scan_on'][0]['rejected']})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "ingestion with trait catalog + free-text scanning on vs off (in-process IngestService)",
        "events": len(events), "batch": args.batch, "rounds": args.rounds, "free_text_events": free_text,
        "median_events_per_s": {m: round(v, 1) for m, v in med.items()}, "ratio_on_off": round(ratio, 3),
        "ratio_per_round": [round(x, 3) for x in per_round],
        "runs": results, "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
