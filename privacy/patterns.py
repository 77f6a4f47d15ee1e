"""Shared pattern pieces for Veil's recognizers: regex flags, CJK-safe edges, base classes."""

from __future__ import annotations

from collections.abc import Sequence

import regex
from presidio_analyzer import Pattern, PatternRecognizer

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
