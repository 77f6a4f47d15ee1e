"""A cheap test that rules text out before the recognizers run (no Presidio import)."""

from __future__ import annotations

import re
import unicodedata

# Necessary conditions for any recognizer to match, checked on NFKC text: an e-mail needs '@';
# a LINE id is U + 32 hex; an IPv6 address has '::' or two hex groups with colons; every other
# entity needs at least 4 ASCII digits (IPv4 1.2.3.4 and ROC dates 79/5/6 have 4; phones 8+,
# IDs 7+, cards 12+).
_CHEAP_SIGNS = re.compile(r"@|U[0-9a-f]{32}|::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
_DIGIT = re.compile(r"[0-9]")
MIN_DIGITS = 4


def may_hold_pii(text: str) -> bool:
    """False only when no recognizer could match `text` (a cheap filter before `scan_text`)."""
    norm = text if text.isascii() else unicodedata.normalize("NFKC", text)
    if _CHEAP_SIGNS.search(norm):
        return True
    return len(_DIGIT.findall(norm)) >= MIN_DIGITS
