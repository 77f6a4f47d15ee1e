"""Audit trail append throughput: one hash-chained append per transaction, all behind one head lock.

  single:   one thread, `append(event)` in a loop.
  threads:  N threads appending concurrently (they serialise on the head lock; what parallelism
            buys is overlap of network round trips and commits with the lock holder's work).
  batched:  one thread, `append_many` of --batch events per transaction (for bulk jobs).

Each mode runs --runs times (median reported) with fresh workspace ids; the chain written is
then verified end to end (records/s reported). Prints a table; writes
bench/results/audit_append.json. Needs a running Neo4j at VEIL_NEO4J_URI (default the
`make test` instance, bolt://127.0.0.1:7688).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")

from audit.chain import verify
from audit.events import Actor, ActorKind, AuditAction, AuditEvent
from graph.audit import AuditRepository
from graph.driver import create_driver
from graph.migrations import apply_migrations
from graph.settings import Neo4jSettings

ACTOR = Actor(id="bench-analyst", kind=ActorKind.USER, role="analyst")


def make_event(workspace: str, i: int) -> AuditEvent:
    """A typical read event: a profile with some fields returned and some masked."""
    return AuditEvent.create(
        workspace=workspace, action=AuditAction.READ, resource="profile", subject=f"p-{i % 997}",
        fields_returned=("traits.tier", "traits.city", "traits.ltv"),
        fields_masked=("traits.email", "traits.phone"), purpose="analytics", lawful_basis="consent",
        consent_record_id=f"c-{i % 997}", extra={"segment_id": "seg-1", "page": i % 10},
        actor=ACTOR, request_id=uuid.uuid4().hex,
    )


def run_threads(repo: AuditRepository, *, events: int, threads: int) -> dict:
    """Append `events` events from `threads` threads; returns rate and seq span."""
    workspace = f"bench-{uuid.uuid4().hex[:12]}"
    per = events // threads

    def worker(w: int) -> list[int]:
        return [repo.append(make_event(workspace, w * per + i)).seq for i in range(per)]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        seqs = [s for part in pool.map(worker, range(threads)) for s in part]
    seconds = time.perf_counter() - started
    return {"workspace": workspace, "events": len(seqs), "seconds": seconds,
            "appends_per_s": len(seqs) / seconds, "first_seq": min(seqs), "last_seq": max(seqs)}


def run_batched(repo: AuditRepository, *, events: int, batch: int) -> dict:
    """Append `events` events in transactions of `batch` from one thread."""
    workspace = f"bench-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    seqs: list[int] = []
    for start in range(0, events, batch):
        stored = repo.append_many([make_event(workspace, i) for i in range(start, min(events, start + batch))])
        seqs.extend(s.seq for s in stored)
    seconds = time.perf_counter() - started
    return {"workspace": workspace, "events": len(seqs), "seconds": seconds,
            "appends_per_s": len(seqs) / seconds, "first_seq": min(seqs), "last_seq": max(seqs)}


def main() -> None:
    """Run every mode, print the table and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1000, help="events per run")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3, help="runs per mode; medians reported")
    args = ap.parse_args()

    settings = Neo4jSettings()
    driver = create_driver(settings)
    apply_migrations(driver, database=settings.database)
    repo = AuditRepository(driver, database=settings.database)
    repo.append(make_event("bench-warmup", 0))

    modes = {
        "single": lambda: run_threads(repo, events=args.events, threads=1),
        f"{args.threads} threads": lambda: run_threads(repo, events=args.events, threads=args.threads),
        f"batched x{args.batch}": lambda: run_batched(repo, events=args.events, batch=args.batch),
    }
    runs: dict[str, list[dict]] = {name: [] for name in modes}
    for rnd in range(args.runs):  # interleave modes so drift in server load hits all of them
        for name, fn in modes.items():
            runs[name].append(fn())
            print(f"run {rnd + 1} {name:<14} {runs[name][-1]['appends_per_s']:>8.0f} appends/s", flush=True)

    first = min(r["first_seq"] for rs in runs.values() for r in rs)
    last = max(r["last_seq"] for rs in runs.values() for r in rs)
    started = time.perf_counter()
    check = verify(repo.iter_records(since_seq=first - 1, until_seq=last), after=None)
    verify_seconds = time.perf_counter() - started
    driver.close()

    summary = {
        name: {"appends_per_s": statistics.median(r["appends_per_s"] for r in rs),
               "ms_per_append": 1000 / statistics.median(r["appends_per_s"] for r in rs)}
        for name, rs in runs.items()
    }
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "neo4j_uri": settings.uri,
        "params": vars(args),
        "median": summary,
        "runs": runs,
        "verify": {"ok": check.ok, "records": check.checked, "seconds": verify_seconds,
                   "records_per_s": check.checked / verify_seconds if verify_seconds else None,
                   "broken_seq": check.broken_seq, "problem": check.problem.value if check.problem else None,
                   "detail": check.detail},
    }
    out = ROOT / "bench" / "results" / "audit_append.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nAudit appends, {args.events} events x {args.runs} runs (median), one transaction per append "
          f"unless batched, {result['machine']}")
    print(f"{'mode':<16}{'appends/s':>12}{'ms/append':>12}")
    for name, row in summary.items():
        print(f"{name:<16}{row['appends_per_s']:>12.0f}{row['ms_per_append']:>12.2f}")
    print(f"verify: {check.checked} records in {verify_seconds:.2f}s "
          f"({result['verify']['records_per_s']:.0f} records/s), ok={check.ok}   "
          f"(written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
