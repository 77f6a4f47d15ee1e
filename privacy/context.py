"""Context words and the character-window context enhancer for Veil's recognizers.

Presidio's own enhancer needs tokens, which the no-op NLP engine does not produce and which
Chinese text would not split into anyway, so windows here are counted in characters and cut
at punctuation: a sentence break ends every window; a clause break (comma, 、, |) ends a window
for *negative* words, and makes a positive word further away count as farther still. The
nearest word wins, after that clause cost.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

# Strong sentence breaks end a context window; commas, 、 and | end a clause. These scans use
# the standard ``re``: on short windows a character class there is several times faster.
SENTENCE_BREAKS = re.compile(r"[。！？!?\n；;]")
CLAUSE_BREAKS = re.compile(r"[。！？!?\n；;，,、|]")
_CLAUSE_ONLY = re.compile(r"[，,、|]")


def _after_last(s: str, breaks: re.Pattern[str]) -> int:
    """Index just after the last break in ``s`` (0 when there is none)."""
    m = breaks.search(s[::-1])
    return len(s) - m.start() if m else 0


def _first(s: str, breaks: re.Pattern[str]) -> int:
    """Index of the first break in ``s`` (len(s) when there is none)."""
    m = breaks.search(s)
    return m.start() if m else len(s)


PHONE_CONTEXT = (
    "電話", "电话", "手機", "手机", "手提", "行動", "市話", "聯絡", "聯繫", "联系", "联络",
    "致電", "致电", "來電", "来电", "回電", "回电", "號碼", "号码", "分機", "傳真", "传真",
    "簡訊", "短訊", "短信", "收件人", "收貨人", "收货人", "請打", "请打", "打給", "打给", "打俾",
    "撥打", "拨打", "撥", "拨", "微信", "phone", "telephone", "tel", "mobile", "cell", "call",
    "contact", "whatsapp", "wechat", "sms", "text", "fax", "hotline", "recipient", "consignee",
    "reach", "ring", "mob", "ph",
)  # fmt: skip
# Words that say a nearby number is a reference, not a phone or card.
REFERENCE_CONTEXT = (
    "訂單", "订单", "單號", "单号", "編號", "编号", "統編", "統一編號", "统一编号", "發票", "发票",
    "追蹤", "追踪", "物流", "運單", "运单", "快遞", "快递", "序號", "序号", "貨號", "货号", "金額",
    "金额", "價格", "价格", "總計", "总计", "合計", "合计", "郵遞區號", "邮编", "郵編", "驗證碼",
    "验证码", "認證碼", "密碼", "密码", "會員", "会员", "單", "单", "工號", "工号", "稅號", "税号", "稅籍",
    "税务", "稅務", "order", "invoice", "tax", "vat",
    "tracking", "ref", "reference", "sku", "serial", "amount", "total", "price", "otp", "code",
    "pin", "password", "member", "membership", "ticket", "case",
)  # fmt: skip
# Words that name a product, a barcode or a model: the number next to them is merchandise.
PRODUCT_CONTEXT = (
    "貨品", "货品", "商品", "品號", "品号", "料號", "料号", "型號", "型号", "條碼", "条码",
    "條形碼", "条形码", "國際條碼", "产品", "產品", "貨號", "货号", "sku", "ean", "upc", "gtin",
    "barcode", "model", "item", "product", "part",
)  # fmt: skip
ID_CONTEXT = (
    "身分證", "身份證", "身分证", "身份证", "證號", "证号", "證件", "证件", "居留證", "居留证",
    "id", "identity", "hkid", "national id",
)  # fmt: skip
# Reference words for IDs: not the generic "編號"/"code" that also follow "身份證".
ID_NEGATIVE_CONTEXT = (
    *PRODUCT_CONTEXT, "訂單", "订单", "單號", "单号", "發票", "发票", "追蹤", "追踪", "物流",
    "運單", "运单", "快遞", "快递", "序號", "序号", "會員", "会员", "order", "invoice",
    "tracking", "serial", "member", "ticket",
)  # fmt: skip
VERSION_CONTEXT = (
    "版本", "版號", "版号", "韌體", "固件", "軔體", "build", "version", "ver", "release",
    "firmware", "app", "sdk", "os", "ios", "android", "chrome", "model", "型號", "型号", "版",
    "升級", "升级", "upgrade", "patch", "v", "第", "條", "条", "section",
    "clause",
)  # fmt: skip


def _any_case(word: str) -> str:
    """ "tel" -> "[tT][eE][lL]": much faster in ``regex`` than an inline (?i:...) group."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else regex.escape(c) for c in word)


def compile_context(words: Iterable[str]) -> regex.Pattern[str] | None:
    """Compile context words into one matcher (ASCII words match whole, any case)."""
    ascii_words = sorted({w.lower() for w in words if w.isascii()}, key=len, reverse=True)
    cjk_words = sorted({w for w in words if not w.isascii()}, key=len, reverse=True)
    parts = []
    if ascii_words:
        alt = "|".join(_any_case(w) for w in ascii_words)
        suffix = "|".join(_any_case(x) for x in ("s", "es", "ed", "ing"))
        parts.append(rf"(?<![A-Za-z])(?:{alt})(?:{suffix})?(?![A-Za-z])")
    if cjk_words:
        parts.append("|".join(regex.escape(w) for w in cjk_words))
    return regex.compile("|".join(parts)) if parts else None


@functools.lru_cache(maxsize=256)
def _reversed(matcher: regex.Pattern[str]) -> regex.Pattern[str]:
    """The same matcher searching right to left: its first hit is the last one."""
    return regex.compile(matcher.pattern, matcher.flags | regex.REVERSE)


@dataclass(frozen=True, slots=True)
class ContextHit:
    """The nearest context word: characters to the span, clause breaks crossed, word span."""

    distance: int
    clauses: int
    start: int
    end: int


def nearest_context(
    text: str,
    start: int,
    end: int,
    matcher: regex.Pattern[str] | None,
    *,
    before: int,
    after: int,
    cross_clauses: bool,
) -> ContextHit | None:
    """Nearest context word in the span's sentence (or only its clause), or None."""
    if matcher is None:
        return None
    lo = max(0, start - before)
    prefix = text[lo:start]
    cut = _after_last(prefix, SENTENCE_BREAKS if cross_clauses else CLAUSE_BREAKS)
    if cut:
        lo += cut
        prefix = prefix[cut:]
    best: ContextHit | None = None
    h = _reversed(matcher).search(prefix)  # the word nearest to the span
    if h:
        gap = prefix[h.end() :]
        clauses = len(_CLAUSE_ONLY.findall(gap)) if cross_clauses else 0
        best = ContextHit(len(gap), clauses, lo + h.start(), lo + h.end())
    # A word after the span labels it only inside its clause: past a comma it labels what
    # follows ("此单 67372819，会员号码 …").
    suffix = text[end : end + after]
    suffix = suffix[: _first(suffix, CLAUSE_BREAKS)]
    hit = matcher.search(suffix)
    if hit:
        cand = ContextHit(hit.start(), 0, end + hit.start(), end + hit.end())
        if best is None or _cost(cand) < _cost(best):
            best = cand
    return best


CLAUSE_COST = 16  # a clause break counts as this many characters of distance
# Words that only say "number": in "會員號碼" or "身份證編號" the word before decides the type.
GENERIC_HEADS = frozenset({"號碼", "号码", "編號", "编号", "號", "号", "number", "no", "code"})


def _compound_head(text: str, head: ContextHit, modifier: ContextHit) -> bool:
    """True when ``head`` is a generic "number" word right after the ``modifier`` word."""
    word = text[head.start : head.end].lower()
    return word in GENERIC_HEADS and 0 <= head.start - modifier.end <= 1


def _cost(hit: ContextHit) -> int:
    return hit.distance + CLAUSE_COST * hit.clauses


def context_distance(
    text: str,
    start: int,
    end: int,
    matcher: regex.Pattern[str] | None,
    *,
    before: int = 24,
    after: int = 8,
) -> int | None:
    """Characters between the span and the nearest context word in its clause, or None."""
    hit = nearest_context(
        text, start, end, matcher, before=before, after=after, cross_clauses=False
    )
    return None if hit is None else hit.distance


class CjkContextEnhancer(ContextAwareEnhancer):
    """Boost (or cut) scores by the nearest positive or negative word, weighed by distance.

    - A negative word counts only inside the span's clause. Right next to the span (at most
      ``adjacent`` characters away: "訂單編號 …", "SKU: …") it cuts the score to 30%; further
      away in the clause only to 70%, so a checksum-valid ID or a ``+886`` phone survives a
      "total" later in the sentence while a bare number does not.
    - A positive word counts inside the sentence; each clause break between it and the span
      adds CLAUSE_COST, and a word across a clause break that another candidate sits closer
      to belongs to that candidate ("電話 0912…，訂單 0223…").
    - A weak match listed next to a confident one of a related type ("0912.../0922...",
      "A or B") is boosted as if it had context.
    """

    def __init__(
        self,
        context_similarity_factor: float = 0.35,
        min_score_with_context_similarity: float = 0.4,
        negative_factor: float = 0.3,
        before: int = 24,
        after: int = 8,
        far_negative_factor: float = 0.7,
        adjacent: int = 6,
    ) -> None:
        super().__init__(
            context_similarity_factor, min_score_with_context_similarity, before, after
        )
        self.negative_factor = negative_factor
        self.far_negative_factor = far_negative_factor
        self.adjacent = adjacent
        self._matchers: dict[str, tuple[Any, Any]] = {}

    def _matchers_for(self, recognizer: EntityRecognizer) -> tuple[Any, Any]:
        cached = self._matchers.get(recognizer.id)
        if cached is None:
            negative = getattr(recognizer, "negative_context", ())
            cached = (compile_context(recognizer.context or ()), compile_context(negative))
            self._matchers[recognizer.id] = cached
        return cached

    def _boost(self, result: RecognizerResult) -> None:
        result.score = min(
            self.MAX_SCORE,
            max(
                result.score + self.context_similarity_factor,
                self.min_score_with_context_similarity,
            ),
        )
        result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Adjust each result's score by the nearest positive or negative context word."""
        by_id = {r.id: r for r in recognizers}
        spans = sorted((r.start, r.end) for r in raw_results)
        before, after = self.context_prefix_count, self.context_suffix_count
        undecided: list[tuple[RecognizerResult, frozenset[str]]] = []
        for result in raw_results:
            meta = result.recognition_metadata or {}
            recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            positive, negative = self._matchers_for(recognizer)
            pos = nearest_context(text, result.start, result.end, positive, before=before, after=after,
                                  cross_clauses=True)
            pos = pos or _adjacent_verb(text, result.start, recognizer)
            if pos is not None and pos.clauses and _claimed(pos, result, spans):
                pos = None
            neg = nearest_context(text, result.start, result.end, negative, before=before, after=after,
                                  cross_clauses=False)
            if pos is not None and neg is not None:
                if _compound_head(text, pos, neg):  # "會員號碼 9123…": a member number
                    pos = None
                elif _compound_head(text, neg, pos):  # "身份證編號 A123…": an ID number
                    neg = None
            if neg is not None and (pos is None or neg.distance < _cost(pos)):
                near = neg.distance <= self.adjacent
                result.score *= self.negative_factor if near else self.far_negative_factor
            elif pos is not None:
                self._boost(result)
            else:
                related: frozenset[str] = getattr(recognizer, "RELATED_ENTITIES", frozenset())
                if related:
                    undecided.append((result, related))
        if not undecided:
            return raw_results
        ordered = sorted(raw_results, key=lambda r: r.start)
        starts = [r.start for r in ordered]
        for result, related in undecided:
            # Only neighbours can be listed together: phone spans are far shorter than 64.
            lo = bisect.bisect_left(starts, result.start - 64)
            hi = bisect.bisect_right(starts, result.end + 9)
            if any(
                other is not result and other.entity_type in related and other.score >= 0.5
                and _listed_together(text, result, other)
                for other in ordered[lo:hi]
            ):  # fmt: skip
                self._boost(result)
        return raw_results


def _adjacent_verb(text: str, start: int, recognizer: EntityRecognizer) -> ContextHit | None:
    """A verb that names the entity only right before it: "有問題打 6499 7404" (call)."""
    verbs: Sequence[str] = getattr(recognizer, "ADJACENT_CONTEXT", ())
    if not verbs:
        return None
    lo = max(0, start - 3)
    before = text[lo:start]
    stripped = before.rstrip(" :")
    for verb in verbs:
        if stripped.endswith(verb):
            word_end = lo + len(stripped)
            return ContextHit(start - word_end, 0, word_end - len(verb), word_end)
    return None


def _claimed(hit: ContextHit, result: RecognizerResult, spans: list[tuple[int, int]]) -> bool:
    """True when another candidate lies between the context word and this span."""
    lo, hi = (hit.end, result.start) if hit.end <= result.start else (result.end, hit.start)
    i = bisect.bisect_left(spans, (lo, -1))
    while i < len(spans) and spans[i][0] < hi:
        if spans[i][1] <= hi and spans[i] != (result.start, result.end):
            return True
        i += 1
    return False


_LIST_GAP = regex.compile(r"[ ,，、/|]*(?:或者?|和|及|(?i:or|and))?[ ,，、/|]*")


def _listed_together(text: str, a: RecognizerResult, b: RecognizerResult) -> bool:
    """True when only list punctuation or "or"/"或" separates two spans."""
    gap = text[a.end : b.start] if a.end <= b.start else text[b.end : a.start]
    return 0 < len(gap) <= 8 and _LIST_GAP.fullmatch(gap) is not None
