"""Dates of birth: dates reported only when a birth word, not an event word, is nearest."""

from __future__ import annotations

import datetime

import regex
from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from privacy.context import compile_context, context_distance
from privacy.patterns import NL, NR, L, R, VeilPatternRecognizer

BIRTH_CONTEXT = (
    "生日", "出生", "出生日期", "出生年月日", "生辰", "birthday", "birth", "dob", "d.o.b",
    "born",
)  # fmt: skip
# "生日禮券", "birthday party": the word names an event, so a date near it is not a DOB.
_BIRTH_EVENT = (
    r"(?:[ ]?(?:禮|礼|券|會|会|派對|派对|優惠|优惠|快樂|快乐|蛋糕|活動|活动|月|當月|当月)"
    r"|(?i:[ ](?:party|coupon|gift|voucher|sale|discount|cake|month|treat)))"
)
BIRTH_CONTEXT_RX = regex.compile(
    r"(?:生日|出生|生辰)(?!" + _BIRTH_EVENT + r")"
    r"|(?i:(?<![A-Za-z])(?:birthday|birth|dob|d\.o\.b|born)(?![A-Za-z]))(?!" + _BIRTH_EVENT + r")"
)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_RX = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Longest alternatives first, so "11日" is not cut to "1".
_D = r"(?:3[01]|[12][0-9]|0?[1-9])"
_M = r"(?:1[0-2]|0?[1-9])"


def parse_birth_date(value: str) -> datetime.date | None:
    """Parse a date written in one of the BIRTH_DATE formats, or None if impossible."""
    nums = [int(n) for n in regex.findall(r"[0-9]+", value)]
    lens = [len(n) for n in regex.findall(r"[0-9]+", value)]
    month = regex.search(r"(?i)(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", value)
    candidates: list[tuple[int, int, int]] = []
    if month and len(nums) == 2:
        day, year = (nums[0], nums[1]) if lens[1] == 4 else (nums[1], nums[0])
        candidates.append((year, _MONTHS.index(month.group(1).lower()) + 1, day))
    elif len(nums) == 1 and lens[0] == 7:  # ROC compact: 0420411
        n = nums[0]
        candidates.append((n // 10000 + 1911, n // 100 % 100, n % 100))
    elif len(nums) == 1 and lens[0] == 8:
        n = nums[0]
        candidates.append((n // 10000, n // 100 % 100, n % 100))
    elif len(nums) == 3 and lens[0] == 4:
        candidates.append((nums[0], nums[1], nums[2]))
    elif len(nums) == 3 and lens[2] == 4:
        candidates += [(nums[2], nums[1], nums[0]), (nums[2], nums[0], nums[1])]
    elif len(nums) == 3 and lens[0] in (2, 3):  # ROC (Minguo) year
        candidates.append((nums[0] + 1911, nums[1], nums[2]))
    today = datetime.date.today()
    for y, m, d in candidates:
        try:
            date = datetime.date(y, m, d)
        except ValueError:
            continue
        if 1900 <= y and date <= today:
            return date
    return None


class BirthDateRecognizer(VeilPatternRecognizer):
    """Dates that a birth-date word introduces; a bare date is never reported."""

    ENTITY = "BIRTH_DATE"
    SCORE_WITH_CONTEXT = 0.85
    PATTERNS = (
        Pattern("ymd", NL + r"(?:19|20)[0-9]{2}(?:[-/.]" + _M + r"[-/.]" + _D + r"|[ ]?年[ ]?" + _M + r"[ ]?月[ ]?" + _D + r"[ ]?[日號号]?)" + NR, 0.3),
        Pattern("dmy", NL + r"[0-9]{1,2}[-/.][0-9]{1,2}[-/.](?:19|20)[0-9]{2}" + NR, 0.3),
        # ROC (Minguo) years, with or without 民國: "民國79年5月6日", "42年4月11日".
        Pattern("roc", r"(?:(?:民國|民国)[ ]?|" + NL + r")(?:1[01][0-9]|[1-9][0-9])[ ]?年[ ]?" + _M + r"[ ]?月[ ]?" + _D + r"(?:[ ]?[日號号]|(?![0-9]))", 0.3),
        Pattern("roc_numeric", NL + r"(?:0?[1-9][0-9]|1[01][0-9])[/.]" + _M + r"[/.]" + _D + NR, 0.3),
        # 8 digits, or 7 with a zero-padded ROC year ("0420411").
        Pattern("compact", NL + r"(?:(?:19|20)[0-9]{2}|0[1-9][0-9]|1[01][0-9])(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])" + NR, 0.3),
        Pattern("d_month_y", L + _D + r"[ -]" + _MONTH_RX + r"[ -](?:19|20)[0-9]{2}" + R, 0.3),
        Pattern("month_d_y", L + _MONTH_RX + r" " + _D + r"(?:st|nd|rd|th)?,? (?:19|20)[0-9]{2}" + R, 0.3),
    )  # fmt: skip
    CONTEXT = BIRTH_CONTEXT
    NEGATIVE_CONTEXT = (
        "訂單", "订单", "下單", "下单", "出貨", "出货", "到貨", "到货", "發貨", "发货", "付款",
        "預約", "预约", "到期", "有效", "截止", "今天", "今日", "order", "delivery", "shipped",
        "due", "expiry", "expires", "valid",
    )  # fmt: skip

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language)
        self._context_rx = BIRTH_CONTEXT_RX
        self._negative_rx = compile_context(self.NEGATIVE_CONTEXT)

    def invalidate_result(self, pattern_text: str) -> bool:
        """Drop impossible or future dates."""
        return parse_birth_date(pattern_text) is None

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Keep only dates with a birth word nearer than any other date word, same clause."""
        if not self._context_rx.search(text):  # most texts: skip the date patterns entirely
            return []
        kept = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            span = (text, result.start, result.end)
            pos = context_distance(*span, self._context_rx)
            neg = context_distance(*span, self._negative_rx)
            if pos is None or (neg is not None and neg < pos):
                continue
            result.score = self.SCORE_WITH_CONTEXT
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
            kept.append(result)
        return kept
