"""Precision/recall/F1 of privacy.detection.scan_text on the labelled PII corpus.

Exact match: same entity type and identical [start, end). Overlap match: same type
and overlapping spans (one-to-one). Reported for the whole corpus and per split
("dev": templates the recognizers were tuned on; "holdout": templates they were not).
Prints tables, writes bench/results/pii_accuracy.json.

    .venv/bin/python bench/pii_accuracy.py [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from privacy.detection import PiiFinding, scan_text

CORPUS = ROOT / "privacy" / "corpus" / "pii_corpus.jsonl"
RESULTS = ROOT / "bench" / "results" / "pii_accuracy.json"
TARGET_TYPES = (
    "TW_NATIONAL_ID", "HK_ID", "CN_RESIDENT_ID", "TW_PHONE", "HK_PHONE", "CN_PHONE",
    "EMAIL_ADDRESS", "CREDIT_CARD",
)  # fmt: skip
TARGET = 0.95

Span = tuple[str, int, int]


def match(
    gold: list[Span], pred: list[Span], *, overlap: bool
) -> tuple[list[Span], list[Span], list[Span]]:
    """Pair predictions with gold spans; return (true positives, false positives, misses)."""
    unmatched = list(gold)
    tps, fps = [], []
    for p in pred:
        hit = next(
            (g for g in unmatched if g[0] == p[0] and (
                (g[1] < p[2] and p[1] < g[2]) if overlap else (g[1], g[2]) == (p[1], p[2])
            )),
            None,
        )  # fmt: skip
        if hit is None:
            fps.append(p)
        else:
            unmatched.remove(hit)
            tps.append(p)
    return tps, fps, unmatched


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall and F1 (1.0 when there is nothing to get wrong)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
    }


def evaluate(samples: list[dict], show_errors: bool = False) -> dict:
    """Score every sample and aggregate per entity type."""
    counts: dict[str, dict[str, Counter[str]]] = {
        mode: {k: Counter() for k in ("tp", "fp", "fn")} for mode in ("exact", "overlap")
    }
    for s in samples:
        gold = [(e["type"], e["start"], e["end"]) for e in s["entities"]]
        findings: list[PiiFinding] = scan_text(s["text"])
        pred = [(f.entity_type, f.start, f.end) for f in findings]
        for mode in ("exact", "overlap"):
            tps, fps, fns = match(gold, pred, overlap=mode == "overlap")
            for key, spans in (("tp", tps), ("fp", fps), ("fn", fns)):
                counts[mode][key].update(t for t, _, _ in spans)
            if show_errors and mode == "exact" and (fps or fns):
                text = s["text"]
                print(f"[{s['id']} {s['lang']}] {text}")
                for t, a, b in fps:
                    print(f"    FP {t} {text[a:b]!r}")
                for t, a, b in fns:
                    print(f"    FN {t} {text[a:b]!r}")
    types = sorted(set().union(*(c for m in counts.values() for c in m.values())))
    report: dict = {"per_entity": {}, "micro": {}}
    for t in types:
        report["per_entity"][t] = {
            mode: prf(counts[mode]["tp"][t], counts[mode]["fp"][t], counts[mode]["fn"][t])
            for mode in counts
        }
    for mode in counts:
        report["micro"][mode] = prf(*(sum(counts[mode][k].values()) for k in ("tp", "fp", "fn")))
    return report


def print_table(report: dict) -> None:
    """Plain-text table of both match modes."""
    head = f"{'entity':<16}{'gold':>6}{'P exact':>9}{'R exact':>9}{'F1 exact':>9}{'P ovl':>8}{'R ovl':>8}{'F1 ovl':>8}"
    print(head)
    print("-" * len(head))
    rows = list(report["per_entity"].items()) + [("MICRO (all)", report["micro"])]
    for name, m in rows:
        e, o = m["exact"], m["overlap"]
        gold = e["tp"] + e["fn"]
        print(f"{name:<16}{gold:>6}{e['precision']:>9.3f}{e['recall']:>9.3f}{e['f1']:>9.3f}"
              f"{o['precision']:>8.3f}{o['recall']:>8.3f}{o['f1']:>8.3f}")  # fmt: skip


def main() -> None:
    """Run the benchmark per corpus split and write JSON results."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--show-errors", action="store_true", help="print every FP/FN (exact mode)")
    args = ap.parse_args()
    samples = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    splits = {"all": samples}
    for s in samples:
        splits.setdefault(s.get("split", "dev"), []).append(s)
    out: dict = {"corpus": str(CORPUS.relative_to(ROOT)), "splits": {}}
    for name, subset in splits.items():
        report = evaluate(subset, show_errors=args.show_errors and name == "all")
        misses = [
            t for t in TARGET_TYPES
            if t in report["per_entity"] and min(
                report["per_entity"][t]["exact"]["precision"],
                report["per_entity"][t]["exact"]["recall"],
            ) < TARGET
        ]  # fmt: skip
        report.update(
            samples=len(subset),
            labelled_entities=sum(len(s["entities"]) for s in subset),
            target={"types": list(TARGET_TYPES), "min_precision_and_recall": TARGET,
                    "mode": "exact", "met": not misses, "missed": misses},
        )  # fmt: skip
        out["splits"][name] = report
        print(
            f"\n== {name}: {len(subset)} samples, {report['labelled_entities']} labelled entities"
        )
        print_table(report)
        print(
            f"targets (exact P and R >= {TARGET} on ids/phones/e-mail/cards) met: {not misses} {misses or ''}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
