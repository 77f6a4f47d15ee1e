"""The embedded durable log (SQLite WAL): appends, dedupe, high-water marks, settle, dead letters,
replay and the barrier. No Neo4j needed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from collect.log.base import LogFull, Poison
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog


def _log(tmp_path: Path, **kw) -> SqliteLog:
    return SqliteLog(LogSettings(path=tmp_path / "events.db", **kw))


def _append(log: SqliteLog, ids: list[str], ws: str = "w1"):
    return log.append(workspace=ws, source="s1", received_at="2026-12-01T00:00:00+00:00", sent_at=None,
                      forced_type=None, sec_gpc=None, events=[{"type": "track", "messageId": i} for i in ids],
                      keys=[f"{ws}|{i}" for i in ids])


def test_append_is_durable_and_read_in_order(tmp_path):
    log = _log(tmp_path)
    a = _append(log, ["m1", "m2"])
    b = _append(log, ["m3"])
    assert (a.stored, b.stored) == (2, 1) and a.seq < b.seq
    log.close()
    reopened = _log(tmp_path)  # what a restarted process sees
    entries = reopened.read(100)
    assert [[e["messageId"] for e in x.events] for x in entries] == [["m1", "m2"], ["m3"]]
    s = reopened.stats()
    assert (s.pending_events, s.appended_total, s.head_seq) == (3, 3, b.seq)
    mode = reopened._conn().execute("PRAGMA journal_mode").fetchone()[0]
    sync = reopened._conn().execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL
    reopened.close()


def test_retried_message_ids_are_duplicates(tmp_path):
    log = _log(tmp_path)
    assert _append(log, ["a", "b"]).stored == 2
    again = _append(log, ["b", "c"])
    assert (again.stored, again.duplicates, again.duplicate_indexes) == (1, 1, (0,))
    assert _append(log, ["a"], ws="other").stored == 1  # dedupe is per workspace
    log.close()


def test_high_water_mark_refuses_without_storing(tmp_path):
    log = _log(tmp_path, high_water_events=3, retry_after_seconds=7)
    _append(log, ["a", "b"])
    with pytest.raises(LogFull) as err:
        _append(log, ["c", "d"])
    assert err.value.status == 503 and err.value.headers == {"Retry-After": "7"}
    assert "high-water mark 3" in err.value.message
    assert log.stats().pending_events == 2
    log.settle(log.read(100))  # drained: room again, and the refused ids were not remembered
    assert _append(log, ["c", "d"]).stored == 2
    log.close()


def test_age_high_water_mark(tmp_path):
    log = _log(tmp_path, high_water_age_seconds=0.2)
    _append(log, ["a"])
    time.sleep(0.3)
    with pytest.raises(LogFull, match="oldest waiting event"):
        _append(log, ["b"])
    log.close()


def test_settle_deletes_records_dead_letters_and_feed(tmp_path):
    log = _log(tmp_path)
    _append(log, ["a", "b"])
    [entry] = log.read(100)
    log.settle([entry], touched={"w1": {"p1", "p2"}}, feed=True,
               dead=[Poison(entry, entry.events[1], "b", "write_failed", "ValueError: boom"),
                     Poison(entry, None, "x", "pii_rejected", "government id in traits.notes")])
    s = log.stats()
    assert (s.pending_events, s.drained_total, s.dead_letters) == (0, 2, 2)
    assert log.committed() and log.committed()[0][1:] == ("w1", ["p1", "p2"])
    assert log.pending_upto(entry.seq)  # the feed consumer has not handled it yet
    log.ack_committed([r[0] for r in log.committed()])
    assert not log.pending_upto(entry.seq)
    dl = {d.code: d for d in log.dead_letters()}
    assert dl["write_failed"].replayable and not dl["pii_rejected"].replayable
    assert log.replay() == 1  # only the one with a body
    [again] = log.read(100)
    assert again.events == [{"type": "track", "messageId": "b"}] and again.seq > entry.seq
    assert [d.code for d in log.dead_letters()] == ["pii_rejected"]
    log.close()


def test_concurrent_appends_are_group_committed(tmp_path):
    log = _log(tmp_path)
    errors: list[BaseException] = []

    def client(t: int) -> None:
        try:
            for i in range(50):
                _append(log, [f"t{t}-{i}-{j}" for j in range(10)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert log.stats().pending_events == 8 * 50 * 10
    assert sum(len(e.events) for e in log.read(10_000)) == 4000
    log.close()


def test_barrier_waits_for_the_drain(tmp_path):
    log = _log(tmp_path)
    _append(log, ["a"])
    assert log.wait_drained(timeout=0.1) is False
    threading.Timer(0.2, lambda: log.settle(log.read(100))).start()
    assert log.wait_drained(timeout=5) is True


def test_one_drainer_per_log_file(tmp_path):
    a, b = _log(tmp_path), _log(tmp_path)
    assert a.acquire_writer() and not b.acquire_writer()
    a.release_writer()
    assert b.acquire_writer()
    a.close()
    b.close()
