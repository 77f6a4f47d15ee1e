"""graph.driver.from_iso: times read back as text."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from graph.driver import from_iso


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-01T00:00:00Z", datetime(2026, 10, 1, tzinfo=UTC)),
    ("2026-10-01T00:00:00.123456789Z", datetime(2026, 10, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ("2026-10-01T00:00:00Z[UTC]", datetime(2026, 10, 1, tzinfo=UTC)),
    ("2026-10-01T08:00:00+08:00[Asia/Taipei]", datetime(2026, 10, 1, 8, tzinfo=timezone(timedelta(hours=8)))),
])
def test_from_iso_reads_neo4j_text(text, expected):
    got = from_iso(text)
    assert got == expected and got.utcoffset() == expected.utcoffset()


def test_from_iso_passes_none():
    assert from_iso(None) is None
