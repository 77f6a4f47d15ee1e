"""Message rendering at send time: `{{ name }}` placeholders from the recipient's plain fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill placeholders; an unknown or withheld field renders empty (never a masked value)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "") or ""), text)


def placeholders(text: str) -> list[str]:
    """The names a text uses."""
    return _PLACEHOLDER.findall(text)
