"""Precision/recall of privacy.detection on the generated corpus and the regression corpus.

- ``privacy/corpus/pii_generated.jsonl`` (bench/make_pii_generated.py): per split ("dev", the
  only part the recognizers may be tuned on, and "holdout"), precision and recall per entity
  type and per language, and the false-positive rate per hard-negative class (share of
  labelled negative spans that any finding overlaps).
- ``privacy/corpus/pii_corpus.jsonl``: the earlier 560-sample corpus, kept as a regression set.

Exact match: same entity type and identical [start, end). Overlap match: same type and
overlapping spans (one-to-one). Targets (issue 16): every type >= 0.97 exact precision and
recall on the holdout split, no negative class above 2%. The same splits are also scored with
the detector of a baseline git ref (default: the merge base with main), in a subprocess, for
a before/after table. Prints tables, writes bench/results/pii_accuracy.json.

    .venv/bin/python bench/pii_accuracy.py [--show-errors dev] [--baseline REF | --no-baseline]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

from privacy.detection import scan_texts

GENERATED = ROOT / "privacy" / "corpus" / "pii_generated.jsonl"
REGRESSION = ROOT / "privacy" / "corpus" / "pii_corpus.jsonl"
RESULTS = ROOT / "bench" / "results" / "pii_accuracy.json"
TARGET = 0.97
NEGATIVE_TARGET = 0.02

Span = tuple[str, int, int]


def load(path: Path) -> list[dict]:
    """Samples of one corpus file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


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
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(f, 4)}  # fmt: skip


def evaluate(samples: list[dict], show_errors: bool = False) -> dict:
    """Score samples per entity type, per language, and per hard-negative class."""
    modes = ("exact", "overlap")
    counts = {m: {k: Counter[str]() for k in ("tp", "fp", "fn")} for m in modes}
    by_lang: dict[str, dict[str, Counter[str]]] = defaultdict(
        lambda: {k: Counter() for k in ("tp", "fp", "fn")}
    )
    neg_total: Counter[str] = Counter()
    neg_hit: Counter[str] = Counter()
    findings = scan_texts([s["text"] for s in samples])
    for s, found in zip(samples, findings):
        gold = [(e["type"], e["start"], e["end"]) for e in s["entities"]]
        pred = [(f.entity_type, f.start, f.end) for f in found]
        for mode in modes:
            tps, fps, fns = match(gold, pred, overlap=mode == "overlap")
            for key, spans in (("tp", tps), ("fp", fps), ("fn", fns)):
                counts[mode][key].update(t for t, _, _ in spans)
                if mode == "exact":
                    by_lang[s["lang"]][key].update(t for t, _, _ in spans)
            if show_errors and mode == "exact" and (fps or fns):
                text = s["text"]
                print(f"[{s['id']} {s['lang']} {s.get('template', '')}] {text!r}")
                for t, a, b in fps:
                    print(f"    FP {t} {text[a:b]!r}")
                for t, a, b in fns:
                    print(f"    FN {t} {text[a:b]!r}")
        for n in s.get("negatives", []):
            neg_total[n["class"]] += 1
            if any(f.start < n["end"] and n["start"] < f.end for f in found):
                neg_hit[n["class"]] += 1
    types = sorted(set().union(*(c for m in counts.values() for c in m.values())))
    report: dict = {
        "samples": len(samples),
        "labelled_entities": sum(len(s["entities"]) for s in samples),
    }
    report["per_entity"] = {
        t: {m: prf(counts[m]["tp"][t], counts[m]["fp"][t], counts[m]["fn"][t]) for m in modes}
        for t in types
    }
    report["micro"] = {
        m: prf(*(sum(counts[m][k].values()) for k in ("tp", "fp", "fn"))) for m in modes
    }
    report["per_language"] = {
        lang: prf(*(sum(c[k].values()) for k in ("tp", "fp", "fn")))
        for lang, c in sorted(by_lang.items())
    }
    report["per_language_entity"] = {
        lang: {t: prf(c["tp"][t], c["fp"][t], c["fn"][t]) for t in types if c["tp"][t] + c["fn"][t] + c["fp"][t]}
        for lang, c in sorted(by_lang.items())
    }  # fmt: skip
    report["negatives"] = {
        k: {
            "spans": neg_total[k],
            "flagged": neg_hit[k],
            "fp_rate": round(neg_hit[k] / neg_total[k], 4),
        }
        for k in sorted(neg_total)
    }
    missed = [t for t, m in report["per_entity"].items()
              if min(m["exact"]["precision"], m["exact"]["recall"]) < TARGET]  # fmt: skip
    over = [k for k, v in report["negatives"].items() if v["fp_rate"] > NEGATIVE_TARGET]
    report["target"] = {"min_precision_and_recall": TARGET, "max_negative_fp_rate": NEGATIVE_TARGET,
                        "mode": "exact", "met": not missed and not over,
                        "types_below": missed, "negative_classes_above": over}  # fmt: skip
    return report


def print_report(name: str, report: dict) -> None:
    """Plain-text tables: per entity, per language, per negative class."""
    print(
        f"\n== {name}: {report['samples']} samples, {report['labelled_entities']} labelled entities"
    )
    head = f"{'entity':<16}{'gold':>6}{'P exact':>9}{'R exact':>9}{'F1':>7}{'P ovl':>8}{'R ovl':>8}"
    print(head + "\n" + "-" * len(head))
    for ent, m in [*report["per_entity"].items(), ("MICRO", report["micro"])]:
        e, o = m["exact"], m["overlap"]
        print(f"{ent:<16}{e['tp'] + e['fn']:>6}{e['precision']:>9.3f}{e['recall']:>9.3f}{e['f1']:>7.3f}"
              f"{o['precision']:>8.3f}{o['recall']:>8.3f}")  # fmt: skip
    print("per language (exact): " + "  ".join(
        f"{lang} P {m['precision']:.3f} R {m['recall']:.3f}" for lang, m in report["per_language"].items()
    ))  # fmt: skip
    if report["negatives"]:
        print("hard negatives flagged: " + "  ".join(
            f"{k} {v['flagged']}/{v['spans']}" for k, v in report["negatives"].items()
        ))  # fmt: skip
    t = report["target"]
    print(f"targets (P,R >= {TARGET}; negatives <= {NEGATIVE_TARGET:.0%}) met: {t['met']}"
          f" {t['types_below'] or ''} {t['negative_classes_above'] or ''}")  # fmt: skip


def baseline_reports(ref: str, splits: dict[str, list[dict]]) -> tuple[str, dict]:
    """Score the splits with privacy/ of a git ref, in a fresh interpreter."""
    from pii_speed import extract

    with tempfile.TemporaryDirectory() as tmp:
        commit = extract(ref, Path(tmp))
        data = Path(tmp) / "splits.json"
        data.write_text(json.dumps(splits, ensure_ascii=False), encoding="utf-8")
        code = (
            "import json,sys; sys.path.insert(0, sys.argv[1]); import privacy.detection; "
            "sys.path.insert(1, sys.argv[2]); import pii_accuracy as a; "
            "s = json.loads(open(sys.argv[3], encoding='utf-8').read()); "
            "print(json.dumps({k: a.evaluate(v) for k, v in s.items()}))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, tmp, str(ROOT / "bench"), str(data)],
            check=True, capture_output=True, text=True, cwd=tmp,
        ).stdout  # fmt: skip
    return commit, json.loads(out.strip().splitlines()[-1])


def print_before_after(name: str, before: dict, after: dict) -> None:
    """Exact precision/recall per type: baseline -> current."""
    print(f"\n== {name}, before -> after (exact P / R)")
    for t in sorted(set(before["per_entity"]) | set(after["per_entity"])):
        b = before["per_entity"].get(t, {}).get("exact", {"precision": 1.0, "recall": 1.0})
        a = after["per_entity"][t]["exact"]
        print(f"{t:<16}P {b['precision']:.3f} -> {a['precision']:.3f}   "
              f"R {b['recall']:.3f} -> {a['recall']:.3f}")  # fmt: skip
    fl = {k: v["flagged"] for k, v in before["negatives"].items() if v["flagged"]}
    print(f"negatives flagged before: {fl or 'none'}")


def main() -> None:
    """Run every split and write JSON results."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", default=None, help="git ref (default: merge base with main)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--show-errors",
        choices=["dev", "holdout", "regression"],
        default=None,
        help="print every FP/FN of one split (tune on dev only)",
    )
    args = ap.parse_args()
    generated = load(GENERATED)
    splits = {
        "holdout": [s for s in generated if s["split"] == "holdout"],
        "dev": [s for s in generated if s["split"] == "dev"],
        "regression": load(REGRESSION),
    }
    out: dict = {"corpora": {"generated": str(GENERATED.relative_to(ROOT)),
                             "regression": str(REGRESSION.relative_to(ROOT))}, "splits": {}}  # fmt: skip
    for name, subset in splits.items():
        report = evaluate(subset, show_errors=args.show_errors == name)
        out["splits"][name] = report
        print_report(name, report)
    if not args.no_baseline:
        ref = args.baseline or subprocess.run(
            ["git", "merge-base", "HEAD", "main"], cwd=ROOT, check=True, capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        commit, before = baseline_reports(ref, {k: v for k, v in splits.items() if k != "dev"})
        out["baseline"] = {"ref": ref, "commit": commit, "splits": before}
        for name, report in before.items():
            print_before_after(name, report, out["splits"][name])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
