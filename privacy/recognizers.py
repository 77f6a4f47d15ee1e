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

from collections.abc import Sequence
from typing import Any

import phonenumbers
import regex
from presidio_analyzer import EntityRecognizer, Pattern
from stdnum.cn import ric

from privacy.birth_dates import BirthDateRecognizer, parse_birth_date
from privacy.context import ID_CONTEXT, ID_NEGATIVE_CONTEXT, PHONE_CONTEXT, REFERENCE_CONTEXT
from privacy.generic_recognizers import (
    OFFLINE_TLD_EXTRACT,
    CjkCreditCardRecognizer,
    CjkIbanRecognizer,
    CjkIpRecognizer,
    OfflineEmailRecognizer,
)
from privacy.patterns import NL, NR, L, R, VeilPatternRecognizer

__all__ = ["OFFLINE_TLD_EXTRACT", "build_recognizers", "cn_ric_is_valid", "hk_id_is_valid",
           "parse_birth_date", "tw_id_is_valid"]  # fmt: skip

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
    PATTERNS = (
        # Forms also group it as region, birth date, sequence: "110101 19491231 002X".
        Pattern("cn_ric", L + r"[1-9][0-9]{5}([ ]?)[0-9]{8}\1[0-9]{3}[0-9Xx]" + R, 0.5),
    )
    CONTEXT = (*ID_CONTEXT, "公民身份号码")
    NEGATIVE_CONTEXT = ID_NEGATIVE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool:
        """Validate checksum, birth date and region code with python-stdnum."""
        return cn_ric_is_valid(pattern_text.replace(" ", ""))


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
    # "打" is "call" right before a number ("有問題打 6499 7404"); elsewhere 打折, 打包 ...
    ADJACENT_CONTEXT: Sequence[str] = ("打",)
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


# The trunk 0 is often kept after the country code ("+886 0912 345 678"); libphonenumber
# drops it. A bare country code ("886-912-345-678") counts when a separator follows it.
_CC = r"(?:(?:\+|00){cc}[-. ]?|(?<![0-9][-. ]){cc}[- ])"
_TW_INTL = _CC.format(cc="886") + r"(?:\(0\)[ ]?|0)?"
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
        Pattern("hk_intl", L + r"(?:\(\+?852\)[-. ]?|" + _CC.format(cc="852") + r")[235679][0-9]{3}" + _SEP + r"[0-9]{4}" + NR, 0.75),
        # Local numbers, mobile (5/6/7/9) or fixed (2/3): reported only with a phone word.
        Pattern("hk_local", NL + r"[235679][0-9]{3}" + _SEP + r"[0-9]{4}" + NR, 0.4),
    )  # fmt: skip
    CONTEXT = (*PHONE_CONTEXT, "手提電話", "打俾", "聯絡我")


class CnPhoneRecognizer(_PhoneRecognizer):
    """Mainland China mobiles: 1[3-9]x + 8 digits, optional +86."""

    ENTITY = "CN_PHONE"
    REGION = "CN"
    PATTERNS = (
        Pattern("cn_mobile_intl", L + r"(?:\(\+?86\)[-. ]?|" + _CC.format(cc="86") + r")1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}" + NR, 0.75),
        Pattern("cn_mobile", NL + r"1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}" + NR, 0.6),
    )  # fmt: skip


class LineUserIdRecognizer(VeilPatternRecognizer):
    """LINE Messaging API user IDs: ``U`` + 32 lower-case hex characters."""

    ENTITY = "LINE_USER_ID"
    PATTERNS = (Pattern("line_user_id", L + r"U[0-9a-f]{32}" + R, 0.85),)
    CONTEXT = ("line", "userid", "user id", "用戶", "用户")


def build_recognizers(language: str) -> list[EntityRecognizer]:
    """Instantiate every Veil recognizer for one Presidio language code."""
    classes: list[Any] = [
        TwNationalIdRecognizer, HkIdRecognizer, CnResidentIdRecognizer, TwPhoneRecognizer,
        HkPhoneRecognizer, CnPhoneRecognizer, LineUserIdRecognizer, BirthDateRecognizer,
        OfflineEmailRecognizer, CjkCreditCardRecognizer, CjkIbanRecognizer, CjkIpRecognizer,
    ]  # fmt: skip
    return [cls(supported_language=language) for cls in classes]
