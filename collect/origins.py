"""Browser origins allowed to send events with a source's write key (CORS), and how they match.

A preflight carries no write key, so it is answered from the union of every enabled source's
origins; the real request then carries the key and is checked against that source alone.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core.errors import VeilError

ANY = "*"
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class OriginError(VeilError):
    """An allowed-origin entry that is not `*` or `scheme://host[:port]`."""

    code = "invalid_origin"
    status = 400


def normalize_origin(text: str) -> str:
    """`*`, `https://shop.example`, `http://localhost:8080` or `https://*.shop.example`, lower-cased."""
    value = text.strip().lower().rstrip("/")
    if value == ANY:
        return ANY
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.path or parts.query or parts.fragment:
        raise OriginError(f"origin {text!r} must look like https://host[:port] (no path) or '*'",
                          field="origin")
    host, _, port = parts.netloc.partition(":")
    if not _HOST.match(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise OriginError(f"origin {text!r} has an invalid host or port", field="origin")
    return value


def origin_matches(origin: str, allowed: tuple[str, ...] | list[str] | set[str]) -> bool:
    """True when the browser's Origin header is one of the allowed entries (`*.` wildcards one level up)."""
    o = origin.strip().lower()
    for entry in allowed:
        if entry == ANY or entry == o:
            return True
        if "://*." in entry:
            scheme, _, rest = entry.partition("://*.")
            o_scheme, _, o_rest = o.partition("://")
            if o_scheme == scheme and o_rest.endswith("." + rest) and "/" not in o_rest:
                return True
    return False
