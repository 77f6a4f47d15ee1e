"""scan_texts (one recognizer pass over many texts) finds exactly what scan_text finds per text."""

from __future__ import annotations

import json
import random
from pathlib import Path

from privacy.detection import scan_text, scan_texts

CORPUS = Path(__file__).resolve().parents[2] / "privacy" / "corpus" / "pii_corpus.jsonl"


def test_batched_scan_equals_one_by_one_on_the_whole_corpus():
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    texts += ["", "０９１２－３４５－６７８", "身分證A123456789\n電話0912345678", "no digits at all"]
    single = [scan_text(t) for t in texts]
    assert sum(map(len, single)) > 300  # the corpus is PII-dense: the comparison is not vacuous
    order = list(range(len(texts)))
    random.Random(5).shuffle(order)
    for size in (3, 64, len(texts)):
        for i in range(0, len(order), size):
            chunk = order[i:i + size]
            assert scan_texts([texts[j] for j in chunk]) == [single[j] for j in chunk]


def test_empty_batch():
    assert scan_texts([]) == [] and scan_texts(["", " "]) == [[], []]


EDGE_CASES = [
    "server 1.2.3.4", "生日：民國79年5月6日", "ip fe80::beef", "line U" + "abcdef" * 5 + "ab",
    "amy＠example.com", "ＨＫＩＤ Ａ１２３４５６(３)", "call ９１２３ ４５６７",
]


def test_the_prefilter_never_rules_out_text_the_recognizers_would_flag():
    from privacy.prefilter import may_hold_pii

    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    flagged = [t for t in texts + EDGE_CASES if scan_text(t)]
    assert len(flagged) > 250 and all(e in flagged for e in EDGE_CASES)  # each edge case really is PII
    assert [t for t in flagged if not may_hold_pii(t)] == []
    for clean in ("/p/123", "Fresh milk", "line", "price 120", "訂單3件"):
        assert not may_hold_pii(clean) and not scan_text(clean)
