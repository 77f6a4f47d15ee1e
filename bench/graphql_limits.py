"""GraphQL document limits under a fragment explosion: ours (one linear pass) vs strawberry's.

What: a document in which each fragment spreads the previous one twice (level N is ~40 N
bytes and expands to 2^N copies of a small fragment), sent through `schema.execute` without
credentials, as an attacker would. Ours: `api.graphql.limits` (depth, aliases, cost scored
once per fragment, before graphql-core validates). Baseline, same run, same schema and
machine: strawberry's QueryDepthLimiter + MaxAliasesLimiter (what Veil used before), run
only up to the level where one call stays under --baseline-budget seconds.
Also the price of the limits on an ordinary read (the graphql_read bench's document).

Run: .venv/bin/python bench/graphql_limits.py  (no database needed)
Writes bench/results/graphql_limits.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import strawberry
from graphql import parse, specified_rules, validate
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from api.graphql.limits import Limits, check
from api.graphql.schema import Mutation, Query, build_schema
from api.logs import configure_logging

READ = """query Read($id: ID!) {
  profile(id: $id) { id traits { name value masking } identifiers { name value masking }
                     interactions(first: 20) { event ts } } }"""


def explosion(levels: int) -> str:
    """Each fragment spreads the previous one twice."""
    parts = ["fragment F0 on Profile { id traits { name value } }"]
    parts += [f"fragment F{i} on Profile {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return f'query {{ profile(id: "x") {{ ...F{levels} }} }}\n' + "\n".join(parts)


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` calls, and the last result."""
    samples, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="10,12,14,16,18,20,25,30,40")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline-budget", type=float, default=2.0, help="stop the baseline past this (s/call)")
    args = parser.parse_args()

    ours = build_schema(introspection=False)
    configure_logging("CRITICAL")  # accepted documents run without a context and fail; not the point here
    old = strawberry.Schema(query=Query, mutation=Mutation, extensions=[
        lambda: QueryDepthLimiter(max_depth=8), lambda: MaxAliasesLimiter(max_alias_count=15)])

    def run(schema: strawberry.Schema, doc: str) -> list[str]:
        result = asyncio.run(schema.execute(doc))
        refused = [str((e.extensions or {}).get("code", e.message[:40])) for e in result.errors or []
                   if "internal" not in e.message and "NoneType" not in e.message and "subscriptable" not in e.message]
        return refused or ["accepted"]

    rows: list[dict[str, Any]] = []
    baseline_on = True
    for level in (int(x) for x in args.levels.split(",")):
        doc = explosion(level)
        ours_s, codes = timed(lambda d=doc: run(ours, d), args.repeat)
        row: dict[str, Any] = {"level": level, "bytes": len(doc), "ours_ms": round(ours_s * 1000, 3),
                               "ours_answer": codes[0]}
        if baseline_on:
            base_s, base_codes = timed(lambda d=doc: run(old, d), 1 if level >= 16 else args.repeat)
            row["baseline_ms"] = round(base_s * 1000, 1)
            row["baseline_answer"] = base_codes[0]
            row["ratio"] = round(base_s / ours_s, 1)
            baseline_on = base_s < args.baseline_budget
        rows.append(row)

    doc = parse(READ)
    limits = Limits()
    check_s, _ = timed(lambda: check(ours._schema, doc, variables={"id": "p"}, operation_name=None, limits=limits),
                       200)
    validate_s, _ = timed(lambda: validate(ours._schema, doc, specified_rules), 200)

    print(f"{'level':>5} {'bytes':>6} {'ours ms':>9} {'ours answer':>18} {'baseline ms':>12} {'baseline answer':>30} "
          f"{'ratio':>8}")
    for r in rows:
        print(f"{r['level']:>5} {r['bytes']:>6} {r['ours_ms']:>9} {r['ours_answer']:>18} "
              f"{r.get('baseline_ms', 'skipped'):>12} {r.get('baseline_answer', '')[:30]:>30} {r.get('ratio', ''):>8}")
    print(f"ordinary read: limits check {check_s * 1e6:.0f} us vs graphql-core validation {validate_s * 1e6:.0f} us "
          f"(ratio {check_s / validate_s:.2f})")
    out = {"bench": "graphql_limits", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": platform.machine(), "python": platform.python_version(), "repeat": args.repeat,
           "explosion": rows, "ordinary_read": {"limits_check_us": round(check_s * 1e6, 1),
                                                "graphql_core_validate_us": round(validate_s * 1e6, 1)}}
    path = ROOT / "bench" / "results" / "graphql_limits.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
