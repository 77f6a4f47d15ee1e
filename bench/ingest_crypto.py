"""Ingestion with the privacy layer on vs off, through the collection service, same run.

Workload: the demo brand's events (collect/demo.py: identify/track/page/order events with
e-mails, phones, names, birthdays and addresses; cookie -> login stitching and merges), in
batches of 100, posted by N threads to `IngestService.ingest` (validation, normalisation,
suppression check, identity resolution under lock, graph write). Each round loads the same
events into a fresh workspace in three modes, rotating which goes first:

  off         `VEIL_PRIVACY_ENCRYPTION=false`, `VEIL_PRIVACY_INGEST_SCAN=false`
  encryption  AES-256-GCM per profile, data keys in a SQLite key store; no scanning
  all         encryption + the trait catalog and free-text scanning (the default configuration)

Blind indexes are on in every mode (they are the identifier key format).

Prints a table; writes bench/results/ingest_crypto.json. Needs a running Neo4j
(VEIL_NEO4J_URI, default the `make test` instance).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.container import build_container
from collect.demo import batches, generate_events
from collect.service import IngestService
from graph.migrations import apply_migrations
from privacy.keys import SqliteKeyStore, blind_key_from_settings
from privacy.vault import FieldVault


def run(service: IngestService, events: list[dict], *, workspace: str, source: str, batch: int,
        concurrency: int) -> dict:
    """Ingest all events; events/s and per-batch latency."""
    chunks = list(batches(events, size=batch))
    lat: list[float] = []
    stored = 0

    def one(chunk: list[dict]) -> int:
        t = time.perf_counter()
        r = service.ingest(chunk, workspace=workspace, source=source)
        lat.append(time.perf_counter() - t)
        return r.stored

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        stored = sum(pool.map(one, chunks))
    elapsed = time.perf_counter() - start
    lat.sort()
    return {"events": len(events), "stored": stored, "seconds": elapsed, "events_per_s": len(events) / elapsed,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1000, help="demo customers (about 20 events each)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="alternating on/off rounds; medians reported")
    args = ap.parse_args()
    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    container = build_container()
    apply_migrations(container.driver, database=container.neo4j.database)
    events = list(generate_events(customers=args.customers, seed=11))
    blind, _ = blind_key_from_settings(container.crypto)
    modes = ("all", "encryption", "off")
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteKeyStore(Path(tmp) / "bench-keys.db")
        scanner = container.ingest.scanner
        if scanner is None:
            raise SystemExit("ingest scanning is switched off (VEIL_PRIVACY_INGEST_SCAN=false); unset it")
        vaults = {mode: FieldVault(provider=container.vault.provider, store=store, blind_key=blind,
                                   enabled=(mode != "off"), cache_size=container.crypto.key_cache_size)
                  for mode in modes}
        services = {mode: IngestService(repo=container.ingest.repo, settings=container.collect,
                                        rules=container.rules, vault=v, consents=container.pipeline.consents,
                                        suppressed=container.ingest.suppressed,
                                        scanner=scanner if mode == "all" else None)
                    for mode, v in vaults.items()}
        try:
            warm = f"bench-warm-{uuid.uuid4().hex[:8]}"
            for mode in modes:
                run(services[mode], events[:1000], workspace=f"{warm}-{mode}", source="bench", batch=args.batch,
                    concurrency=args.concurrency)
            for rnd in range(args.rounds):
                order = modes[rnd % 3:] + modes[:rnd % 3]
                for mode in order:
                    ws = f"bench-crypto-{mode}-{uuid.uuid4().hex[:8]}"
                    runs[mode].append(run(services[mode], events, workspace=ws, source="bench", batch=args.batch,
                                          concurrency=args.concurrency))
                print(f"round {rnd + 1}: " + ", ".join(f"{m} {runs[m][-1]['events_per_s']:.0f} ev/s" for m in modes),
                      file=sys.stderr)
            keys = store.count()
        finally:
            store.close()
            container.close()

    def med(mode: str, k: str) -> float:
        return statistics.median(r[k] for r in runs[mode])

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores",
        "params": vars(args), "events_per_round": len(events), "data_keys_created": keys,
        **{m: {k: med(m, k) for k in ("events_per_s", "p50_ms", "p99_ms", "seconds")} for m in modes},
        "rounds": runs,
    }
    result["ratio_encryption_to_off"] = result["encryption"]["events_per_s"] / result["off"]["events_per_s"]
    result["ratio_all_to_off"] = result["all"]["events_per_s"] / result["off"]["events_per_s"]
    out = ROOT / "bench" / "results" / "ingest_crypto.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nIngestion through IngestService, {len(events)} demo events x {args.rounds} rounds, batches of "
          f"{args.batch}, {args.concurrency} threads (medians)")
    print(f"{'mode':<12}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'x off':>8}")
    for mode in modes:
        r = result[mode]
        print(f"{mode:<12}{r['events_per_s']:>12.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}"
              f"{r['events_per_s'] / result['off']['events_per_s']:>8.2f}")
    print(f"encryption + scanning vs off: {result['ratio_all_to_off']:.2f} (target >= 0.70)   "
          f"(written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
