"""The generated PII corpus: reproducible fixed split, valid labels, and the held-out targets."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from stdnum import luhn
from stdnum.cn import ric

from privacy.detection import scan_text, scan_texts

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "privacy" / "corpus" / "pii_generated.jsonl"


@functools.cache
def _bench(name: str) -> ModuleType:
    """Import a bench/ script as a module (bench/ is not a package)."""
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def samples() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def test_the_committed_corpus_is_what_the_generator_writes(samples: list[dict]) -> None:
    gen = _bench("make_pii_generated")
    assert gen.dumps(gen.build(**gen.DEFAULTS)) == CORPUS.read_text(encoding="utf-8")


def test_split_is_fixed_and_templates_are_disjoint(samples: list[dict]) -> None:
    templates = _bench("pii_templates")
    assert len(samples) >= 2000
    by_split = Counter(s["split"] for s in samples)
    assert by_split["dev"] >= 1000 and by_split["holdout"] >= 1000 - 1
    dev = {t for ts in templates.DEV.values() for t in ts}
    holdout = {t for ts in templates.HOLDOUT.values() for t in ts}
    assert not dev & holdout
    for split in ("dev", "holdout"):
        assert {s["lang"] for s in samples if s["split"] == split} == {
            "zh-TW",
            "zh-HK",
            "zh-CN",
            "en",
        }
        assert all(s["template"].startswith(split + "/") for s in samples if s["split"] == split)


def test_every_hard_negative_class_is_in_the_holdout(samples: list[dict]) -> None:
    formats = _bench("pii_formats")
    classes = {n["class"] for s in samples if s["split"] == "holdout" for n in s["negatives"]}
    assert classes == set(formats.NEGATIVES)


def _tw_ok(v: str) -> bool:
    formats = _bench("pii_formats")
    v = v.upper()
    return formats.tw_id_check(v[:9]) == v[9]


def test_labels_are_valid_by_the_formats_own_rules(samples: list[dict]) -> None:
    import unicodedata

    formats = _bench("pii_formats")
    for s in samples:
        spans = [(e["start"], e["end"]) for e in s["entities"]]
        for n in s["negatives"]:  # a hard negative never overlaps a labelled entity
            assert all(n["end"] <= a or n["start"] >= b for a, b in spans), s
        for e in s["entities"]:
            value = unicodedata.normalize("NFKC", s["text"][e["start"] : e["end"]])
            if e["type"] == "TW_NATIONAL_ID":
                assert _tw_ok(value), value
            elif e["type"] == "HK_ID":
                core = "".join(c for c in value.upper() if c.isalnum())
                assert formats.hk_check(core[:-7], core[-7:-1]) == core[-1], value
            elif e["type"] == "CN_RESIDENT_ID":
                assert ric.is_valid(value.upper().replace(" ", "")), value
            elif e["type"] == "CREDIT_CARD":
                assert luhn.is_valid("".join(c for c in value if c.isdigit())), value


def test_batched_scan_equals_one_by_one_on_generated_text(samples: list[dict]) -> None:
    texts = [s["text"] for s in samples[::7]]
    assert scan_texts(texts) == [scan_text(t) for t in texts]


def test_holdout_meets_the_issue_targets(samples: list[dict]) -> None:
    accuracy = _bench("pii_accuracy")
    report = accuracy.evaluate([s for s in samples if s["split"] == "holdout"])
    assert (
        report["target"]["types_below"] == [] and report["target"]["negative_classes_above"] == []
    )
    assert len(report["per_entity"]) >= 10  # every type is scored, not only the easy ones


def test_the_prefilter_passes_every_generated_text_with_a_finding(samples: list[dict]) -> None:
    from privacy.prefilter import may_hold_pii

    texts = [s["text"] for s in samples]
    flagged = [t for t, found in zip(texts, scan_texts(texts)) if found]
    assert len(flagged) > 1500
    assert [t for t in flagged if not may_hold_pii(t)] == []
