"""Identity resolution end to end on a real Neo4j: ingest N synthetic customers (sealed PII), then a
full `ResolutionService.run` (read + open through the ProfileReader, train, score, merge, queue)
and an incremental run after K more records arrive. The bench workspace is deleted afterwards.

    VEIL_NEO4J_URI=bolt://127.0.0.1:7688 .venv/bin/python bench/identity_e2e.py [--n 20000] [--k 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access.principal import Principal, PrincipalKind
from api.container import build_container
from api.identity_wiring import build_service
from resolution.synthetic import synth_records

RESULTS = Path(__file__).resolve().parent / "results"


def _events(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        traits = {k: r[k] for k in ("name", "address", "city") if r.get(k)}
        if r.get("dob"):
            traits["birthday"] = r["dob"]
        if r.get("phone"):
            traits["home_phone"] = r["phone"]
        if r.get("email"):
            traits["email"] = r["email"]
        out.append({"type": "identify", "anonymousId": f"a-{r['uid']}", "messageId": f"m-{r['uid']}",
                    "traits": traits})
    return out


def main() -> None:
    """Ingest, run full and incremental, print a table, write bench/results/identity_e2e_<n>.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--k", type=int, default=1000)
    args = ap.parse_args()
    c = build_container()
    ws = f"bench-id-{uuid.uuid4().hex[:8]}"
    records, _ = synth_records(args.n + args.k, seed=33)
    first, late = records[:args.n], records[args.n:]
    principal = Principal(id="system:bench", kind=PrincipalKind.SYSTEM, workspace=ws, roles=("system",))
    service = build_service(c)
    try:
        t = time.perf_counter()
        events = _events(first)
        for i in range(0, len(events), 500):
            c.ingest.ingest(events[i:i + 500], workspace=ws, source="bench")
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        full = service.run(principal)
        full_s = time.perf_counter() - t
        late_events = _events(late)
        for i in range(0, len(late_events), 500):
            c.ingest.ingest(late_events[i:i + 500], workspace=ws, source="bench")
        t = time.perf_counter()
        inc = service.run(principal, incremental=True)
        inc_s = time.perf_counter() - t
    finally:
        with c.driver.session(database=c.neo4j.database) as session:  # implicit: IN TRANSACTIONS
            session.run("MATCH (n {workspace: $ws}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS",
                        ws=ws).consume()
        c.close()
    out = {"records": args.n, "profiles": full.profiles, "ingest_s": round(ingest_s, 1), "full_run_s": round(full_s, 1),
           "merged": full.merged, "queued": full.queued, "late_records": args.k, "incremental_mode": inc.mode,
           "incremental_run_s": round(inc_s, 1), "incremental_pairs": inc.pairs,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "machine": platform.platform()}
    print(f"{'records':>8}{'profiles':>10}{'ingest s':>10}{'full run s':>12}{'merged':>8}{'queued':>8}"
          f"{'late':>6}{'incr s':>8}{'RSS MB':>8}")
    print(f"{out['records']:>8}{out['profiles']:>10}{out['ingest_s']:>10}{out['full_run_s']:>12}{out['merged']:>8}"
          f"{out['queued']:>8}{out['late_records']:>6}{out['incremental_run_s']:>8}{out['peak_rss_mb']:>8}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"identity_e2e_{args.n}.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
