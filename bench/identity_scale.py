"""Identity-resolution scale: the matching engine on N synthetic customers (default 1,000,000).

Stages timed separately: building matching rows (normalisation, name forms), EM training,
blocked prediction, and an incremental run (10k touched profiles scored against everyone with
the stored model). Peak RSS of the process is reported. The Neo4j read of the profiles is not
part of this measurement (see README).

    .venv/bin/python bench/identity_scale.py [--n 1000000] [--touched 10000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resolution.decide import Outcome, Thresholds, decide
from resolution.model import MatchModel
from resolution.settings import ResolutionSettings
from resolution.synthetic import synth

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_s() -> float:
    """CPU seconds of this process (all threads, DuckDB's included): comparable on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Run the stages, print a table, write bench/results/identity_scale_<n>.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--touched", type=int, default=10_000)
    args = ap.parse_args()
    s = ResolutionSettings()
    th = Thresholds(auto_merge=s.auto_merge_threshold, review=s.review_threshold)
    stages: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def mark(name: str, t: float, c: float) -> None:
        stages[f"{name}_s"], cpu[f"{name}_cpu_s"] = time.perf_counter() - t, cpu_s() - c
        print(f"{name}: {stages[name + '_s']:.1f} s wall, {cpu[name + '_cpu_s']:.1f} s CPU", flush=True)

    t, c = time.perf_counter(), cpu_s()
    rows, truth, _ = synth(args.n, seed=21)
    mark("rows", t, c)
    t, c = time.perf_counter(), cpu_s()
    model = MatchModel(rows, threads=s.duckdb_threads)
    model.train(u_pairs=s.u_sample_pairs, em_pairs=s.em_max_pairs)
    mark("train", t, c)
    t, c = time.perf_counter(), cpu_s()
    pairs = model.predict(threshold=th.review)
    mark("predict", t, c)
    spec = model.to_json()
    del model
    auto = {(p.left, p.right) for p in pairs if decide(p, th) is Outcome.MERGE}
    queued = {(p.left, p.right) for p in pairs}
    touched = [r["unique_id"] for r in rows[-args.touched:]]
    t, c = time.perf_counter(), cpu_s()
    again = MatchModel(rows, model_json=spec, threads=s.duckdb_threads)
    inc = again.predict_for(touched, threshold=th.review)
    mark("incremental", t, c)
    full_s = stages["train_s"] + stages["predict_s"]
    tp_auto = len(auto & truth)
    out = {
        "records": len(rows), "true_pairs": len(truth), "scored_pairs": len(pairs),
        "auto_merges": len(auto), "auto_precision": round(tp_auto / len(auto), 4) if auto else None,
        "auto_recall": round(tp_auto / len(truth), 4) if truth else None,
        "review_recall": round(len(queued & truth) / len(truth), 4) if truth else None,
        "touched": len(touched), "incremental_pairs": len(inc),
        **{k: round(v, 1) for k, v in stages.items()}, "match_s": round(full_s, 1),
        **{k: round(v, 1) for k, v in cpu.items()}, "load_average_1m": round(__import__("os").getloadavg()[0], 1),
        "peak_rss_mb": round(rss_mb()), "machine": platform.platform(), "cores": __import__("os").cpu_count(),
    }
    print(f"{'records':>10}{'rows s':>9}{'train s':>9}{'predict s':>11}{'match s':>9}{'incr s':>8}"
          f"{'pairs':>10}{'auto P':>8}{'rev R':>7}{'RSS MB':>8}")
    print(f"{out['records']:>10}{out['rows_s']:>9}{out['train_s']:>9}{out['predict_s']:>11}{out['match_s']:>9}"
          f"{out['incremental_s']:>8}{out['scored_pairs']:>10}{out['auto_precision']!s:>8}"
          f"{out['review_recall']!s:>7}{out['peak_rss_mb']:>8}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"identity_scale_{args.n}.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
