"""Offline PII detection for Chinese and English text: the public entry points."""

from __future__ import annotations

import bisect
import functools
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from privacy.context import CjkContextEnhancer
from privacy.prefilter import may_hold_pii
from privacy.recognizers import build_recognizers

__all__ = ["ENTITIES", "PiiFinding", "contains_pii", "may_hold_pii", "normalize", "scan_text", "scan_texts"]

# One routing key for mixed zh/en text; "zh" is registered too for direct engine users.
LANGUAGE = "en"
LANGUAGES = ("en", "zh")

ENTITIES = (
    "TW_NATIONAL_ID", "HK_ID", "CN_RESIDENT_ID", "TW_PHONE", "HK_PHONE", "CN_PHONE",
    "LINE_USER_ID", "BIRTH_DATE", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
)  # fmt: skip

# Dash look-alikes NFKC keeps; each maps to one character so offsets stay put.
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"})


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One detected PII span; ``start``/``end`` index the caller's original string."""

    entity_type: str
    start: int
    end: int
    score: float
    text: str


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """NFKC text plus, per normalised character, the source span it came from."""

    text: str
    src_start: tuple[int, ...] | None  # None: identical to the source
    src_end: tuple[int, ...] | None

    def to_source(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised [start, end) span back to the source string."""
        if self.src_start is None or self.src_end is None:
            return start, end
        return self.src_start[start], self.src_end[end - 1]


@functools.lru_cache(maxsize=4096)
def _normalize_cluster(cluster: str) -> str:
    return unicodedata.normalize("NFKC", cluster).translate(_DASHES)


def normalize(text: str) -> NormalizedText:
    """NFKC-normalise (and unify dashes) while keeping an exact offset map."""
    if text.isascii():
        return NormalizedText(text, None, None)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        # A base character and its combining marks normalise as one unit.
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        norm = _normalize_cluster(text[i:j])
        out.append(norm)
        starts.extend([i] * len(norm))
        ends.extend([j] * len(norm))
        i = j
    normalized = "".join(out)
    if normalized == text:
        return NormalizedText(text, None, None)
    return NormalizedText(normalized, tuple(starts), tuple(ends))


@functools.cache
def get_analyzer() -> AnalyzerEngine:
    """Build (once) the offline Presidio engine with Veil's recognizers."""
    # Presidio logs "Fetching all recognizers" at INFO on every analyze call: on the ingestion
    # path that is a JSON log line per scanned value.
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    nlp_engine = NoOpNlpEngine(
        models=[{"lang_code": lang, "model_name": "no_op"} for lang in LANGUAGES]
    )
    registry = RecognizerRegistry(supported_languages=list(LANGUAGES))
    for lang in LANGUAGES:
        for recognizer in build_recognizers(lang):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=list(LANGUAGES),
        context_aware_enhancer=CjkContextEnhancer(),
    )


def _resolve_overlaps(findings: list[PiiFinding]) -> list[PiiFinding]:
    """Keep the strongest of overlapping findings (then the longest)."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[PiiFinding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: (f.start, f.end))


def scan_text(
    text: str, *, entities: list[str] | None = None, min_score: float = 0.5
) -> list[PiiFinding]:
    """Find PII in ``text``; offsets refer to the original, un-normalised string."""
    if entities is not None:
        unknown = sorted(set(entities) - set(ENTITIES))
        if unknown:
            raise ValueError(f"unknown entity types: {unknown}")
        if not entities:
            return []
    if not text:
        return []
    norm = normalize(text)
    results = get_analyzer().analyze(
        norm.text, language=LANGUAGE, entities=entities, score_threshold=min_score
    )
    findings = []
    for r in results:
        start, end = norm.to_source(r.start, r.end)
        findings.append(PiiFinding(r.entity_type, start, end, round(r.score, 4), text[start:end]))
    return _resolve_overlaps(findings)


# Joins texts scanned in one pass. Every pattern is edge-guarded and every context window ends
# at a line break, so nothing matches or boosts across it (tests/privacy check the corpus).
BATCH_SEPARATOR = "\n\n"


def scan_texts(texts: Sequence[str], *, min_score: float = 0.5) -> list[list[PiiFinding]]:
    """`scan_text` for many texts in one analyzer pass: the same findings, about half the cost."""
    norms = [normalize(t) for t in texts]
    starts: list[int] = []
    pos = 0
    for n in norms:
        starts.append(pos)
        pos += len(n.text) + len(BATCH_SEPARATOR)
    per_text: list[list[PiiFinding]] = [[] for _ in texts]
    joined = BATCH_SEPARATOR.join(n.text for n in norms)
    if not joined.strip():
        return per_text
    for r in get_analyzer().analyze(joined, language=LANGUAGE, score_threshold=min_score):
        i = bisect.bisect_right(starts, r.start) - 1
        start, end = r.start - starts[i], r.end - starts[i]
        if end > len(norms[i].text):
            continue  # would span a separator: not a finding of any one text
        src_start, src_end = norms[i].to_source(start, end)
        per_text[i].append(PiiFinding(r.entity_type, src_start, src_end, round(r.score, 4),
                                      texts[i][src_start:src_end]))
    return [_resolve_overlaps(f) for f in per_text]


def contains_pii(text: str, *, min_score: float = 0.5) -> bool:
    """Return True when ``text`` holds at least one PII finding."""
    return bool(scan_text(text, min_score=min_score))
