"""Presidio's built-in recognizers (e-mail, card, IBAN, IP), made CJK-safe and offline."""

from __future__ import annotations

import regex
import tldextract
from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
)

from privacy.context import PRODUCT_CONTEXT, REFERENCE_CONTEXT, VERSION_CONTEXT
from privacy.patterns import FLAGS, NL, NR, VeilRecognizerMixin

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
        *(w for w in REFERENCE_CONTEXT if w not in ("金額", "金额", "amount")),
        *PRODUCT_CONTEXT,
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=[Pattern(p.name, p.regex, p.score) for p in self.CJK_PATTERNS],
            context=list(self.CJK_CONTEXT),
            supported_language=supported_language,
        )
        self.global_regex_flags = FLAGS

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
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

    def invalidate_result(self, pattern_text: str) -> bool:
        """Not an address for ``ipaddress``, or an IPv6 shape without a digit ("a::b")."""
        if ":" in pattern_text and not any(c.isdigit() for c in pattern_text):
            return True
        return bool(super().invalidate_result(pattern_text))
