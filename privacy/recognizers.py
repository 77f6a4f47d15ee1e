"""Presidio recognizers for Taiwan, Hong Kong and PRC PII, safe inside CJK text.

All patterns run on NFKC-normalised text (see ``privacy.detection``) and are
matched *without* Presidio's default IGNORECASE: patterns say where case may vary
(ID letters are typed in either case and upper-cased before the checksum; a LINE
``U`` is upper case and its hex lower case), and context words carry their own
case-insensitivity.
``\\b`` is never used at an edge, because a CJK character and an ASCII digit
are both ``\\w`` and so have no word boundary between them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import phonenumbers
import regex
import tldextract
from presidio_analyzer import (
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
)
from stdnum.cn import ric

from privacy.context import (
    ID_CONTEXT,
    ID_NEGATIVE_CONTEXT,
    PHONE_CONTEXT,
    PRODUCT_CONTEXT,
    REFERENCE_CONTEXT,
    VERSION_CONTEXT,
    compile_context,
    context_distance,
)

FLAGS = regex.DOTALL | regex.MULTILINE  # deliberately no IGNORECASE

# Edge guards. Any ASCII alphanumeric neighbour means we are inside a longer token.
L = r"(?<![A-Za-z0-9_])"
R = r"(?![A-Za-z0-9_])"
# Numbers additionally must not continue a digit group ("4532 9123 4567 ..."),
# follow a code prefix ("AB-91234567"), a closing bracket or a currency sign.
# "/" is not a group separator: "0912345678/0922333444" lists two phones. A space
# only continues a group of 3+ digits, so "0912345678 12 Queen's Rd" still matches.
NL = L + r"(?<![0-9][-.])(?<![0-9]{3} )(?<![A-Za-z]-)(?<!\))(?<![$¥€£][ ]?)"
NR = R + r"(?![-.][0-9])(?! [0-9]{3})"

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


class VeilRecognizerMixin:
    """Adds a reference-number (negative) context list to a recognizer."""

    NEGATIVE_CONTEXT: Sequence[str] = ()

    @property
    def negative_context(self) -> Sequence[str]:
        """Words that make a nearby match less likely to be this entity."""
        return self.NEGATIVE_CONTEXT


class VeilPatternRecognizer(VeilRecognizerMixin, PatternRecognizer):
    """PatternRecognizer with case-sensitive CJK-safe patterns declared on the class."""

    ENTITY = ""
    PATTERNS: Sequence[Pattern] = ()
    CONTEXT: Sequence[str] = ()

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=[Pattern(p.name, p.regex, p.score) for p in self.PATTERNS],
            context=list(self.CONTEXT),
            supported_language=supported_language,
            global_regex_flags=FLAGS,
        )


# --- national identity numbers -------------------------------------------------------

TW_LETTER_VALUES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [
    10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29,
    32, 30, 31, 33,
]))  # fmt: skip


def tw_id_is_valid(value: str) -> bool:
    """Check a Taiwan national ID / 2021 resident certificate number (upper-case letter)."""
    if not regex.fullmatch(r"[A-Z][1289][0-9]{8}", value):
        return False
    letter = TW_LETTER_VALUES[value[0]]
    digits = [letter // 10, letter % 10] + [int(c) for c in value[1:]]
    weights = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1]
    return sum(d * w for d, w in zip(digits, weights)) % 10 == 0


def hk_id_check_char(prefix: str) -> str:
    """Return the check character for an HKID prefix such as ``A123456``."""
    letters, digits = prefix[:-6], prefix[-6:]
    values = [36] * (2 - len(letters)) + [ord(c) - ord("A") + 10 for c in letters]
    values += [int(c) for c in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1)))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def hk_id_is_valid(value: str) -> bool:
    """Check an HKID with or without brackets around the check character."""
    m = regex.fullmatch(r"([A-Z]{1,2}[0-9]{6}) ?[(\[]?([0-9A])[)\]]?", value)
    return bool(m) and hk_id_check_char(m.group(1)) == m.group(2)


class TwNationalIdRecognizer(VeilPatternRecognizer):
    """Taiwan national ID and (2021+) resident certificate: letter, 1/2/8/9, 8 digits."""

    ENTITY = "TW_NATIONAL_ID"
    PATTERNS = (Pattern("tw_id", L + r"[A-Za-z][1289][0-9]{8}" + R, 0.5),)
    CONTEXT = (*ID_CONTEXT, "統一證號", "统一证号", "居留", "arc")
    NEGATIVE_CONTEXT = ID_NEGATIVE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool:
        """Apply the letter-table checksum; people type the letter in either case."""
        return tw_id_is_valid(pattern_text.upper())


class HkIdRecognizer(VeilPatternRecognizer):
    """Hong Kong identity card number, mod-11 check digit, brackets optional."""

    ENTITY = "HK_ID"
    PATTERNS = (
        Pattern(
            "hkid",
            L + r"[A-Za-z]{1,2}[0-9]{6}(?: ?\([0-9Aa]\)| ?\[[0-9Aa]\]|[0-9Aa]" + R + ")",
            0.5,
        ),
    )
    CONTEXT = (*ID_CONTEXT, "香港身份證", "identity card")
    NEGATIVE_CONTEXT = ID_NEGATIVE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool:
        """Apply the mod-11 check; people type the letters in either case."""
        return hk_id_is_valid(pattern_text.upper())


class CnResidentIdRecognizer(VeilPatternRecognizer):
    """PRC resident identity card number (18 characters, ISO 7064 mod 11-2)."""

    ENTITY = "CN_RESIDENT_ID"
    # A lower-case x check character is accepted on purpose: it is common in typed text.
    PATTERNS = (Pattern("cn_ric", L + r"[1-9][0-9]{16}[0-9Xx]" + R, 0.5),)
    CONTEXT = (*ID_CONTEXT, "公民身份号码")
    NEGATIVE_CONTEXT = ID_NEGATIVE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool:
        """Validate checksum, birth date and region code with python-stdnum."""
        return cn_ric_is_valid(pattern_text)


def cn_ric_is_valid(text: str) -> bool:
    """python-stdnum's check, safe on every input.

    python-stdnum 2.2 raises KeyError (not a ValidationError) for a region code its table
    lists without a county, e.g. a prefecture-level code such as 110300. It looks the region
    up last, after the checksum and the birth date passed, and the code exists: count it valid.
    """
    try:
        return bool(ric.is_valid(text))
    except KeyError:
        return True


# --- phones ---------------------------------------------------------------------------


class _PhoneRecognizer(VeilPatternRecognizer):
    REGION = ""
    RELATED_ENTITIES = frozenset({"TW_PHONE", "HK_PHONE", "CN_PHONE"})
    CONTEXT: Sequence[str] = PHONE_CONTEXT
    NEGATIVE_CONTEXT: Sequence[str] = REFERENCE_CONTEXT
    USE_PHONENUMBERS = True

    def invalidate_result(self, pattern_text: str) -> bool:
        """Reject numbers libphonenumber knows cannot exist in the region."""
        if not self.USE_PHONENUMBERS:
            return False
        # "00" is the international prefix people type everywhere; libphonenumber only
        # knows each region's own carrier codes (TW: 002, 005, ...), so say "+" instead.
        number = "+" + pattern_text[2:] if pattern_text.startswith("00") else pattern_text
        try:
            parsed = phonenumbers.parse(number, self.REGION)
        except phonenumbers.NumberParseException:
            return True
        region_code = phonenumbers.region_code_for_number(parsed)
        return region_code != self.REGION or not phonenumbers.is_valid_number(parsed)


_TW_INTL = r"(?:\+|00)886[-. ]?(?:\(0\)[ ]?)?"
# Dashes, spaces and dots all separate digit groups ("0960.568.321").
_SEP = r"[-. ]?"


class TwPhoneRecognizer(_PhoneRecognizer):
    """Taiwan mobiles (09xx) and landlines, local or +886."""

    ENTITY = "TW_PHONE"
    REGION = "TW"
    PATTERNS = (
        Pattern("tw_mobile_intl", L + _TW_INTL + r"9[0-9]{2}" + _SEP + r"[0-9]{3}" + _SEP + r"[0-9]{3}" + NR, 0.75),
        Pattern("tw_mobile", NL + r"09[0-9]{2}" + _SEP + r"[0-9]{3}" + _SEP + r"[0-9]{3}" + NR, 0.6),
        # 6-digit local numbers (037, 089) are also grouped 2+4; libphonenumber checks length.
        Pattern("tw_land_intl", L + _TW_INTL + r"[2-8][0-9]{0,2}" + _SEP + r"[0-9]{2,4}" + _SEP + r"[0-9]{3,4}" + NR, 0.7),
        Pattern("tw_land_paren", NL + r"\(0[2-8][0-9]{0,2}\)[ ]?[0-9]{2,4}" + _SEP + r"[0-9]{3,4}" + NR, 0.55),
        Pattern("tw_land_sep", NL + r"0[2-8][0-9]{0,2}[-. ][0-9]{2,4}" + _SEP + r"[0-9]{3,4}" + NR, 0.55),
        Pattern("tw_land_bare", NL + r"0[2-8][0-9]{7,8}" + NR, 0.35),
    )  # fmt: skip


class HkPhoneRecognizer(_PhoneRecognizer):
    """Hong Kong 8-digit numbers: mobiles 5/6/7/9, fixed lines 2/3 (only with a phone word)."""

    ENTITY = "HK_PHONE"
    REGION = "HK"
    # Allocation tables move faster than libphonenumber releases; the prefix rule is ours.
    USE_PHONENUMBERS = False
    PATTERNS = (
        Pattern("hk_intl", L + r"(?:\(\+?852\)|(?:\+|00)852)[-. ]?[235679][0-9]{3}" + _SEP + r"[0-9]{4}" + NR, 0.75),
        Pattern("hk_mobile", NL + r"[5679][0-9]{3}" + _SEP + r"[0-9]{4}" + NR, 0.4),
        # Fixed lines (2/3): reported only next to a phone word.
        Pattern("hk_fixed", NL + r"[23][0-9]{3}" + _SEP + r"[0-9]{4}" + NR, 0.3),
    )  # fmt: skip
    CONTEXT = (*PHONE_CONTEXT, "手提電話", "打俾", "聯絡我")


class CnPhoneRecognizer(_PhoneRecognizer):
    """Mainland China mobiles: 1[3-9]x + 8 digits, optional +86."""

    ENTITY = "CN_PHONE"
    REGION = "CN"
    PATTERNS = (
        Pattern("cn_mobile_intl", L + r"(?:\(\+?86\)|(?:\+|00)86)[-. ]?1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}" + NR, 0.75),
        Pattern("cn_mobile", NL + r"1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}" + NR, 0.6),
    )  # fmt: skip


class LineUserIdRecognizer(VeilPatternRecognizer):
    """LINE Messaging API user IDs: ``U`` + 32 lower-case hex characters."""

    ENTITY = "LINE_USER_ID"
    PATTERNS = (Pattern("line_user_id", L + r"U[0-9a-f]{32}" + R, 0.85),)
    CONTEXT = ("line", "userid", "user id", "用戶", "用户")


# --- dates of birth -------------------------------------------------------------------

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
        Pattern("roc_numeric", NL + r"(?:[1-9][0-9]|1[01][0-9])[/.]" + _M + r"[/.]" + _D + NR, 0.3),
        Pattern("compact", NL + r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])" + NR, 0.3),
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


# --- Presidio built-ins, made CJK-safe and offline ------------------------------------

# Bundled public-suffix snapshot only: no download, no disk cache.
OFFLINE_TLD_EXTRACT = tldextract.TLDExtract(
    cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
)

_EMAIL_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_EMAIL_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


class OfflineEmailRecognizer(VeilRecognizerMixin, EmailRecognizer):
    """Presidio's e-mail recognizer with ASCII-edged patterns and an offline suffix list."""

    CJK_PATTERNS = (
        Pattern(
            "email_ascii",
            r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])" + _EMAIL_LOCAL + "@"
            + _EMAIL_LABEL + r"(?:\." + _EMAIL_LABEL + r")+(?![A-Za-z0-9_-])",
            0.5,
        ),
    )  # fmt: skip
    CJK_CONTEXT = (
        "email",
        "e-mail",
        "mail",
        "電郵",
        "电邮",
        "郵箱",
        "邮箱",
        "信箱",
        "郵件",
        "邮件",
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=[Pattern(p.name, p.regex, p.score) for p in self.CJK_PATTERNS],
            context=list(self.CJK_CONTEXT),
            supported_language=supported_language,
        )
        self.global_regex_flags = FLAGS

    def validate_result(self, pattern_text: str) -> bool:
        """Require a known public suffix, from the bundled snapshot."""
        return OFFLINE_TLD_EXTRACT(pattern_text).fqdn != ""


def card_brand_length_ok(digits: str) -> bool:
    """Check the issuer prefix (IIN) and length of a card number."""
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p2 in (62, 65) or p4 == 6011 or 644 <= p3 <= 649 or 3528 <= p4 <= 3589:
        return n in (16, 19)
    if p2 in (36, 38, 39) or 300 <= p3 <= 305:
        return n in (14, 16)
    return False


class CjkCreditCardRecognizer(VeilRecognizerMixin, CreditCardRecognizer):
    """Luhn-checked card numbers with issuer/length checks and CJK-safe edges."""

    CJK_PATTERNS = (
        Pattern("card_plain", NL + r"[2-6][0-9]{12,18}" + NR, 0.3),
        Pattern("card_4x4", NL + r"[2-6][0-9]{3}([- ])[0-9]{4}\1[0-9]{4}\1[0-9]{4}(?:\1?[0-9]{3})?" + NR, 0.3),
        Pattern("card_amex_diners", NL + r"3[0-9]{3}([- ])[0-9]{6}\1[0-9]{4,5}" + NR, 0.3),
    )  # fmt: skip
    CJK_CONTEXT = (
        "信用卡", "卡號", "卡号", "銀行卡", "银行卡", "簽帳", "簽賬", "扣帳", "銀聯", "银联",
        "credit", "card", "visa", "mastercard", "amex", "jcb", "unionpay",
    )  # fmt: skip
    NEGATIVE_CONTEXT = (
        *(w for w in REFERENCE_CONTEXT if w not in ("金額", "金额", "amount")), *PRODUCT_CONTEXT
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=[Pattern(p.name, p.regex, p.score) for p in self.CJK_PATTERNS],
            context=list(self.CJK_CONTEXT),
            supported_language=supported_language,
        )
        self.global_regex_flags = FLAGS

    def validate_result(self, pattern_text: str) -> bool | None:
        """Luhn plus issuer prefix and length; a 13-digit number needs card context.

        13 digits is also the length of an EAN-13 barcode, and Taiwan's GS1 prefix 471 makes
        every local barcode look like an old 13-digit Visa: one in ten passes Luhn. Returning
        None keeps the weak pattern score, which only a card word nearby lifts over 0.5.
        """
        digits = regex.sub(r"[- ]", "", pattern_text)
        if not (card_brand_length_ok(digits) and super().validate_result(digits)):
            return False
        return None if len(digits) == 13 else True


class CjkIbanRecognizer(VeilRecognizerMixin, IbanRecognizer):
    """Presidio's IBAN recognizer (already look-around edged) with Chinese context."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            context=["iban", "bank", "account", "帳戶", "账户", "帳號", "账号", "匯款",
                     "汇款", "銀行", "银行"],
            supported_language=supported_language,
        )  # fmt: skip


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"


# IPv6 may follow a label and a colon ("IP:2001:db8::1", after NFKC of "IP：") when the
# label cannot itself be part of an address: a CJK character, or a word with a non-hex letter.
_IPV6_LEFT = (
    r"(?:(?<![A-Za-z0-9_:])|(?<=(?:[^\x00-\x7f]|(?<![A-Za-z0-9_])[A-Za-z0-9_]*[G-Zg-z_]"
    r"[A-Za-z0-9_]*):(?!:)))"
)


class CjkIpRecognizer(VeilRecognizerMixin, IpRecognizer):
    """IPv4/IPv6 with ASCII look-arounds instead of ``\\w``/``\\b`` edges.

    Four dotted numbers are also how software versions are written ("App 4.5.0.15"), so
    version and product words are negative context.
    """

    NEGATIVE_CONTEXT = VERSION_CONTEXT

    def __init__(self, supported_language: str = "en") -> None:
        ipv6 = next(p for p in IpRecognizer.PATTERNS if p.name == "IPv6")
        assert ipv6.regex.startswith(r"(?<![\w:])")
        patterns = [
            Pattern(
                "IPv4",
                r"(?<![A-Za-z0-9_.])" + _OCTET + r"(?:\." + _OCTET + r"){3}"
                r"(?:/(?:[0-2]?[0-9]|3[0-2]))?(?![A-Za-z0-9_]|\.[0-9])",
                0.6,
            ),
            Pattern(
                "IPv6",
                _IPV6_LEFT + ipv6.regex.removeprefix(r"(?<![\w:])").replace(r"\w", "A-Za-z0-9_"),
                0.6,
            ),
        ]
        super().__init__(
            patterns=patterns,
            context=["ip", "ipv4", "ipv6", "位址", "地址", "伺服器", "服务器", "server", "host"],
            supported_language=supported_language,
        )
        self.global_regex_flags = FLAGS


def build_recognizers(language: str) -> list[EntityRecognizer]:
    """Instantiate every Veil recognizer for one Presidio language code."""
    classes: list[Any] = [
        TwNationalIdRecognizer, HkIdRecognizer, CnResidentIdRecognizer, TwPhoneRecognizer,
        HkPhoneRecognizer, CnPhoneRecognizer, LineUserIdRecognizer, BirthDateRecognizer,
        OfflineEmailRecognizer, CjkCreditCardRecognizer, CjkIbanRecognizer, CjkIpRecognizer,
    ]  # fmt: skip
    return [cls(supported_language=language) for cls in classes]
