"""Normalisation of identifiers and timestamps before anything is stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers

from core.errors import VeilError

# Values SDKs, forms and POS systems send when they have nothing: never identifiers.
JUNK_VALUES = frozenset(
    {
        "", "null", "undefined", "none", "nil", "nan", "n/a", "na", "-", "0", "unknown",
        "anonymous", "test", "[object object]", "false", "true",
        "test@test.com", "test@example.com", "a@a.com", "noemail@noemail.com", "no@email.com",
        "none@none.com", "null@null.com", "email@email.com", "user@example.com",
    }
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REPEATED_DIGITS = re.compile(r"^(\d)\1+$")
_SEQUENTIAL = {"0123456789", "1234567890", "123456789", "12345678", "987654321"}


def is_junk(value: str, *, blocked: frozenset[str] = frozenset()) -> bool:
    """True for placeholder values ("null", "undefined", 0000000000, test@test.com...)."""
    v = value.strip().lower()
    if v in JUNK_VALUES or v in blocked:
        return True
    digits = re.sub(r"[\s\-+().]", "", v)
    return bool(digits.isdigit() and (_REPEATED_DIGITS.match(digits) or digits in _SEQUENTIAL))


def normalize_email(value: str) -> str | None:
    """Trimmed, lower-cased e-mail, or None when it is not an e-mail address."""
    v = value.strip().lower()
    if not _EMAIL_RE.match(v) or len(v) > 254:
        return None
    return v


def normalize_phone(value: str, *, default_region: str) -> str | None:
    """E.164 form of a phone number (default region for national numbers), None if invalid."""
    v = value.strip()
    if not v:
        return None
    try:
        parsed = phonenumbers.parse(v, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO 8601 string (naive means UTC); None if unparsable."""
    if not isinstance(value, str) or not value:
        return None
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(v)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        # Year 0001 with a positive offset (or 9999 with a negative one) has no UTC time.
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


class SkewError(VeilError, ValueError):
    """The clock-skew correction leaves the range of representable or plausible times."""

    code = "invalid_timestamp"
    status = 400


# Event times before this are refused: no device clock or CRM history is that old, and the
# correction receivedAt - (sentAt - timestamp) of an extreme pair (0001 / 9999) would overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def corrected_timestamp(
    *, timestamp: datetime | None, sent_at: datetime | None, received_at: datetime, max_future_s: int
) -> datetime:
    """Event time corrected for device clock skew, as Segment does: receivedAt - (sentAt - timestamp).

    Raises SkewError when the corrected time is before 1900 or not representable."""
    if timestamp is None:
        return received_at
    ts = timestamp
    if sent_at is not None:
        try:
            ts = received_at - (sent_at - timestamp)
        except OverflowError as exc:
            raise SkewError("sentAt and timestamp are too far apart to correct the clock skew") from exc
    if ts < EARLIEST:
        raise SkewError("the event time (corrected for clock skew with sentAt) is before 1900")
    if (ts - received_at).total_seconds() > max_future_s:
        return received_at
    return ts
