"""Throughput of privacy.detection, this tree against a baseline tree, in the same run.

The baseline is ``privacy/`` of a git ref (default: the merge base with ``main``, i.e. the
detector before this branch), extracted with ``git archive`` into a temporary directory.
Each measurement runs in a fresh subprocess that imports only that tree's ``privacy``;
rounds alternate baseline/current so machine noise hits both alike. Measured per corpus:

- ``scan_text``: one call per text (the catalog's sampling path), texts/s;
- ``scan_texts``: batches of 100 texts in one pass (the ingestion path), texts/s;
- both per second of wall time and per second of the process's CPU time (``*_cpu``).

Medians over rounds; prints a table and writes bench/results/pii_speed.json.

    .venv/bin/python bench/pii_speed.py [--baseline REF] [--rounds 5] [--passes 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "pii_speed.json"
CORPORA = {
    "regression (560 texts)": ROOT / "privacy" / "corpus" / "pii_corpus.jsonl",
    "generated (2,200 texts)": ROOT / "privacy" / "corpus" / "pii_generated.jsonl",
}
BATCH = 100
# Texts per second of wall time, and per second of this process's CPU time: on a shared
# machine the CPU figure is the steadier one (other processes do not count against it).
KEYS = ("scan_text", "scan_texts", "scan_text_cpu", "scan_texts_cpu")


def worker(tree: str, corpus: str, passes: int) -> dict[str, float]:
    """Time scan_text and scan_texts of one tree on one corpus (run in a subprocess)."""
    sys.path.insert(0, tree)
    from privacy.detection import get_analyzer, scan_text, scan_texts

    texts = [
        json.loads(line)["text"] for line in Path(corpus).read_text("utf-8").splitlines() if line
    ]
    get_analyzer()
    for t in texts:  # warm-up: regex compilation, caches
        scan_text(t)
    wall: dict[str, list[float]] = {"scan_text": [], "scan_texts": []}
    cpu: dict[str, list[float]] = {"scan_text": [], "scan_texts": []}
    for _ in range(passes):
        for path in ("scan_text", "scan_texts"):
            t0, c0 = time.perf_counter(), time.process_time()
            if path == "scan_text":
                for t in texts:
                    scan_text(t)
            else:
                for i in range(0, len(texts), BATCH):
                    scan_texts(texts[i : i + BATCH])
            wall[path].append(time.perf_counter() - t0)
            cpu[path].append(time.process_time() - c0)
    n = len(texts)
    out: dict[str, float] = {"texts": n}
    for path, seconds in wall.items():
        out[path] = n / min(seconds)
        out[path + "_cpu"] = n / min(cpu[path])
    return out


def extract(ref: str, into: Path) -> str:
    """Write privacy/ of a git ref under ``into``; return the commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", ref], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "privacy"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    tar_path = into / "privacy.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return commit


def run_worker(tree: Path, corpus: Path, passes: int) -> dict[str, float]:
    """One measurement in a fresh interpreter."""
    code = (
        "import json,sys; sys.path.insert(0, sys.argv[1]); import pii_speed; "
        "print(json.dumps(pii_speed.worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "bench"), str(tree), str(corpus), str(passes)],
        check=True, capture_output=True, text=True, cwd=tempfile.gettempdir(),
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Alternate baseline and current rounds; write medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", default=None, help="git ref (default: merge base with main)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--passes", type=int, default=3, help="timed passes per round (best kept)")
    args = ap.parse_args()
    ref = (
        args.baseline
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    result: dict = {"baseline_ref": ref, "rounds": args.rounds, "passes": args.passes,
                    "batch": BATCH, "python": platform.python_version(), "corpora": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result["baseline_commit"] = extract(ref, Path(tmp))
        trees = {"baseline": Path(tmp), "current": ROOT}
        for name, corpus in CORPORA.items():
            runs: dict[str, list[dict[str, float]]] = {"baseline": [], "current": []}
            for r in range(args.rounds):
                for which in ("baseline", "current") if r % 2 == 0 else ("current", "baseline"):
                    runs[which].append(run_worker(trees[which], corpus, args.passes))
            row: dict = {}
            for which, rs in runs.items():
                row[which] = {k: round(statistics.median(x[k] for x in rs), 1) for k in KEYS}
            row["ratio"] = {
                k: round(row["current"][k] / row["baseline"][k], 3) for k in row["current"]
            }
            result["corpora"][name] = row
    print(
        f"baseline {ref[:12]}; medians of {args.rounds} rounds, best of {args.passes} passes each"
    )
    print(f"{'corpus':<26}{'path':<16}{'baseline/s':>12}{'current/s':>12}{'ratio':>8}")
    for name, row in result["corpora"].items():
        for k in KEYS:
            print(f"{name:<26}{k:<16}{row['baseline'][k]:>12,.0f}{row['current'][k]:>12,.0f}"
                  f"{row['ratio'][k]:>8.2f}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
