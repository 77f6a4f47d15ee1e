"""Throughput of privacy.detection.scan_text over the PII corpus.

Median of several full passes (after one warm-up pass); also per-text latency
percentiles and the one-off import/engine build cost. Prints a table and writes
bench/results/pii_speed.json.

    .venv/bin/python bench/pii_speed.py [--runs 7]
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "privacy" / "corpus" / "pii_corpus.jsonl"
RESULTS = ROOT / "bench" / "results" / "pii_speed.json"


def main() -> None:
    """Time scan_text and write JSON results."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    texts = [
        json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line
    ]
    chars = sum(len(t) for t in texts)

    t0 = time.perf_counter()
    detection = importlib.import_module("privacy.detection")
    t1 = time.perf_counter()
    detection.get_analyzer()
    t2 = time.perf_counter()
    scan_text = detection.scan_text

    for t in texts:  # warm-up: regex compilation, caches
        scan_text(t)
    runs = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for t in texts:
            scan_text(t)
        runs.append(time.perf_counter() - start)
    latencies = []
    for t in texts:
        start = time.perf_counter()
        scan_text(t)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()

    median = statistics.median(runs)
    result = {
        "corpus": str(CORPUS.relative_to(ROOT)),
        "texts": len(texts),
        "chars": chars,
        "mean_chars_per_text": round(chars / len(texts), 1),
        "runs": args.runs,
        "median_pass_s": round(median, 4),
        "texts_per_s": round(len(texts) / median, 1),
        "chars_per_s": round(chars / median, 0),
        "latency_ms": {
            "mean": round(median / len(texts) * 1000, 3),
            "p50": round(latencies[len(latencies) // 2], 3),
            "p95": round(latencies[int(len(latencies) * 0.95)], 3),
            "max": round(latencies[-1], 3),
        },
        "import_s": round(t1 - t0, 3),
        "engine_build_s": round(t2 - t1, 3),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    rows = [
        ("texts", f"{len(texts)} ({result['mean_chars_per_text']} chars avg)"),
        ("median pass", f"{median * 1000:.1f} ms over {args.runs} runs"),
        ("texts/s", f"{result['texts_per_s']:,.0f}"),
        ("chars/s", f"{result['chars_per_s']:,.0f}"),
        ("latency p50/p95/max", "{p50} / {p95} / {max} ms".format(**result["latency_ms"])),
        (
            "import + build",
            f"{result['import_s']} s + {result['engine_build_s']} s (once per process)",
        ),
    ]
    for k, v in rows:
        print(f"{k:<22}{v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
