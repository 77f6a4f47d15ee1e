"""The embedded durable log: SQLite in WAL mode, `synchronous=FULL`, group commit.

An append returns only after the transaction holding it is committed and the WAL fsynced, so
an acknowledged event survives a kill of the process (and, with FULL, a power loss). Appends
from many request threads are handed to one committer thread (core/group_commit.py) that
writes everything waiting in one transaction: one fsync for many requests.

Tables: `entries` (pending requests, in arrival order), `seen` (messageIds of the dedupe
window, so a retried request is answered as duplicates), `dead_letters`, `committed` (profiles
touched by drained entries, consumed by realtime segment evaluation) and `counters` (pending
events and bytes, totals; kept in the same transactions so the high-water check is O(1)).
Several processes (uvicorn workers) may append to one file; one of them drains it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from collect.log.base import (
    Appended,
    DeadLetter,
    LogEntry,
    LogFull,
    LogStats,
    LogUnavailable,
    Poison,
)
from collect.log.settings import LogSettings
from core.group_commit import GroupCommit

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, workspace TEXT NOT NULL, source TEXT NOT NULL,
  received_at TEXT NOT NULL, sent_at TEXT, forced_type TEXT, sec_gpc TEXT,
  body BLOB NOT NULL, n INTEGER NOT NULL, bytes INTEGER NOT NULL, appended_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS seen_at ON seen(at);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, workspace TEXT NOT NULL, source TEXT NOT NULL,
  received_at TEXT NOT NULL, sent_at TEXT, forced_type TEXT, sec_gpc TEXT, message_id TEXT,
  event BLOB, code TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS committed (
  id INTEGER PRIMARY KEY AUTOINCREMENT, upto INTEGER NOT NULL, workspace TEXT NOT NULL,
  profiles BLOB NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('events', 0), ('bytes', 0), ('appended', 0), ('drained', 0);
"""
_ENTRY_COLS = "seq, workspace, source, received_at, sent_at, forced_type, sec_gpc, body, bytes, appended_at"


@dataclass
class _Append:
    workspace: str
    source: str
    received_at: str
    sent_at: str | None
    forced_type: str | None
    sec_gpc: str | None
    events: list[dict[str, Any]]
    keys: list[str]


class SqliteLog:
    """Append (group-committed), read the head, settle drained entries, dead letters, barrier."""

    name = "sqlite"

    def __init__(self, settings: LogSettings) -> None:
        self.settings = settings
        self.path = Path(settings.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._conn().executescript(SCHEMA)
        self._group: GroupCommit[_Append, Appended | LogFull] = GroupCommit(
            self._flush, name="veil-log-append", max_size=settings.group_commit_events,
            size=lambda a: len(a.events))
        self._lock_file: IO[str] | None = None

    # -- connections ---------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this object opened and release the writer lock."""
        self.release_writer()
        with self._conns_lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    # -- append --------------------------------------------------------------------------------
    def append(self, *, workspace: str, source: str, received_at: str, sent_at: str | None,
               forced_type: str | None, sec_gpc: str | None, events: list[dict[str, Any]],
               keys: list[str]) -> Appended:
        """Durably append accepted events (keys: their `workspace|messageId`); raises LogFull past the mark."""
        try:
            out = self._group.submit(_Append(workspace, source, received_at, sent_at, forced_type, sec_gpc,
                                             events, keys))
        except sqlite3.Error as exc:
            raise LogUnavailable(f"the event log could not be written ({type(exc).__name__}); nothing was "
                                 "stored, retry", headers={"Retry-After": str(self.settings.retry_after_seconds)}
                                 ) from exc
        if isinstance(out, LogFull):
            raise out
        return out

    def _full(self, db: sqlite3.Connection, adding_events: int, adding_bytes: int, now: float) -> LogFull | None:
        s = self.settings
        events, nbytes = (r[0] for r in db.execute(
            "SELECT value FROM counters WHERE name IN ('events', 'bytes') ORDER BY name DESC"))
        why = None
        if events + adding_events > s.high_water_events:
            why = f"{events} events are waiting for the graph (high-water mark {s.high_water_events})"
        elif nbytes + adding_bytes > s.high_water_bytes:
            why = f"{nbytes} bytes are waiting for the graph (high-water mark {s.high_water_bytes})"
        elif events:
            row = db.execute("SELECT appended_at FROM entries ORDER BY seq LIMIT 1").fetchone()
            if row and now - row[0] > s.high_water_age_seconds:
                why = (f"the oldest waiting event is {now - row[0]:.0f} s old "
                       f"(high-water mark {s.high_water_age_seconds:.0f} s)")
        if why is None:
            return None
        return LogFull(f"the event log is full: {why}; nothing was stored, retry after the delay",
                       headers={"Retry-After": str(s.retry_after_seconds)})

    def _flush(self, jobs: list[_Append]) -> list[Appended | LogFull]:
        now = time.time()
        out: list[Appended | LogFull] = []
        with self._tx() as db:
            for job in jobs:
                dup: list[int] = []
                fresh: list[dict[str, Any]] = []
                for i, (event, key) in enumerate(zip(job.events, job.keys, strict=True)):
                    if db.execute("INSERT OR IGNORE INTO seen(key, at) VALUES (?, ?)", (key, now)).rowcount:
                        fresh.append(event)
                    else:
                        dup.append(i)
                if not fresh:
                    out.append(Appended(None, 0, len(dup), tuple(dup)))
                    continue
                body = orjson.dumps(fresh)
                full = self._full(db, len(fresh), len(body), now)
                if full is not None:
                    # Forget the keys again: a retry after the delay must not be answered as a duplicate.
                    skip = set(dup)
                    db.executemany("DELETE FROM seen WHERE key = ? AND at = ?",
                                   [(k, now) for i, k in enumerate(job.keys) if i not in skip])
                    out.append(full)
                    continue
                seq = db.execute(
                    "INSERT INTO entries(workspace, source, received_at, sent_at, forced_type, sec_gpc, body, n, "
                    "bytes, appended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.workspace, job.source, job.received_at, job.sent_at, job.forced_type, job.sec_gpc, body,
                     len(fresh), len(body), now)).lastrowid
                self._bump(db, events=len(fresh), nbytes=len(body), appended=len(fresh))
                out.append(Appended(seq, len(fresh), len(dup), tuple(dup)))
        return out

    @staticmethod
    def _bump(db: sqlite3.Connection, *, events: int = 0, nbytes: int = 0, appended: int = 0,
              drained: int = 0) -> None:
        db.executemany("UPDATE counters SET value = value + ? WHERE name = ?",
                       [(v, k) for k, v in (("events", events), ("bytes", nbytes), ("appended", appended),
                                            ("drained", drained)) if v])

    # -- drain ---------------------------------------------------------------------------------
    def read(self, max_events: int) -> list[LogEntry]:
        """The oldest pending entries, up to about `max_events` events (at least one entry)."""
        cur = self._conn().execute(f"SELECT {_ENTRY_COLS}, n FROM entries ORDER BY seq LIMIT ?", (max_events,))
        entries: list[LogEntry] = []
        total = 0
        for row in cur:  # rows are fetched lazily: stop reading once the batch is full
            if entries and total + row[10] > max_events:
                break
            entries.append(_entry(row))
            total += row[10]
        cur.close()
        return entries

    def settle(self, entries: Iterable[LogEntry], *, touched: dict[str, set[str]] | None = None,
               dead: Iterable[Poison] = (), feed: bool = False) -> None:
        """After the graph commit: delete the entries, record dead letters and (feed) the touched profiles."""
        entries = list(entries)
        if not entries:
            return
        now = time.time()
        upto = max(e.seq for e in entries)
        with self._tx() as db:
            db.executemany("DELETE FROM entries WHERE seq = ?", [(e.seq,) for e in entries])
            n = sum(len(e.events) for e in entries)
            self._bump(db, events=-n, nbytes=-sum(e.nbytes for e in entries), drained=n)
            db.executemany(
                "INSERT INTO dead_letters(seq, workspace, source, received_at, sent_at, forced_type, sec_gpc, "
                "message_id, event, code, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(p.entry.seq, p.entry.workspace, p.entry.source, p.entry.received_at, p.entry.sent_at,
                  p.entry.forced_type, p.entry.sec_gpc, p.message_id,
                  orjson.dumps(p.event) if p.event is not None else None, p.code, p.reason[:2000], now)
                 for p in dead])
            if feed and touched:
                db.executemany("INSERT INTO committed(upto, workspace, profiles, at) VALUES (?, ?, ?, ?)",
                               [(upto, ws, orjson.dumps(sorted(ids)), now) for ws, ids in touched.items() if ids])

    def prune_seen(self, *, now: float | None = None) -> int:
        """Forget messageIds older than the dedupe window."""
        cutoff = (now or time.time()) - self.settings.dedupe_window_seconds
        with self._tx() as db:
            return db.execute("DELETE FROM seen WHERE at < ?", (cutoff,)).rowcount

    # -- committed feed (realtime consumers) -------------------------------------------------------
    def committed(self, limit: int = 500) -> list[tuple[int, str, list[str]]]:
        """Oldest (id, workspace, profile ids) rows written after graph commits."""
        rows = self._conn().execute("SELECT id, workspace, profiles FROM committed ORDER BY id LIMIT ?", (limit,))
        return [(r[0], r[1], orjson.loads(r[2])) for r in rows]

    def ack_committed(self, ids: Iterable[int]) -> None:
        """Forget feed rows their consumer has handled."""
        with self._tx() as db:
            db.executemany("DELETE FROM committed WHERE id = ?", [(i,) for i in ids])

    # -- dead letters ----------------------------------------------------------------------------
    def dead_letters(self, *, limit: int = 100, workspace: str | None = None) -> list[DeadLetter]:
        """The newest dead letters (optionally of one workspace)."""
        q = "SELECT id, seq, workspace, source, message_id, code, reason, at, event IS NOT NULL FROM dead_letters"
        args: tuple[Any, ...] = ()
        if workspace:
            q += " WHERE workspace = ?"
            args = (workspace,)
        rows = self._conn().execute(q + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [DeadLetter(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows]

    def replay(self, ids: Iterable[int] | None = None) -> int:
        """Move dead letters (all replayable ones when `ids` is None) back to the end of the log."""
        now = time.time()
        moved = 0
        with self._tx() as db:
            q = ("SELECT id, workspace, source, received_at, sent_at, forced_type, sec_gpc, event FROM dead_letters "
                 "WHERE event IS NOT NULL")
            rows = db.execute(q).fetchall()
            wanted = set(ids) if ids is not None else None
            for r in rows:
                if wanted is not None and r[0] not in wanted:
                    continue
                body = orjson.dumps([orjson.loads(r[7])])
                db.execute("INSERT INTO entries(workspace, source, received_at, sent_at, forced_type, sec_gpc, body, "
                           "n, bytes, appended_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                           (r[1], r[2], r[3], r[4], r[5], r[6], body, len(body), now))
                db.execute("DELETE FROM dead_letters WHERE id = ?", (r[0],))
                self._bump(db, events=1, nbytes=len(body))
                moved += 1
        return moved

    # -- progress and the barrier -----------------------------------------------------------------
    def head_seq(self) -> int:
        """The sequence number of the newest entry ever appended (0 when none)."""
        row = self._conn().execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        return int(row[0]) if row else 0

    def pending_upto(self, seq: int, *, feed: bool = True) -> bool:
        """Whether an entry up to `seq` is still waiting (for the graph, or with feed for its consumer)."""
        db = self._conn()
        if db.execute("SELECT 1 FROM entries WHERE seq <= ? LIMIT 1", (seq,)).fetchone():
            return True
        return bool(feed and db.execute("SELECT 1 FROM committed WHERE upto <= ? LIMIT 1", (seq,)).fetchone())

    def wait_drained(self, *, seq: int | None = None, timeout: float | None = None, feed: bool = True) -> bool:
        """Drain barrier: wait until everything appended so far (or up to `seq`) is in the graph."""
        target = self.head_seq() if seq is None else seq
        deadline = time.monotonic() + (self.settings.barrier_timeout_seconds if timeout is None else timeout)
        while self.pending_upto(target, feed=feed):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stats(self) -> LogStats:
        """Pending events and bytes, oldest age, totals and dead letters."""
        db = self._conn()
        c = dict(db.execute("SELECT name, value FROM counters").fetchall())
        row = db.execute("SELECT appended_at FROM entries ORDER BY seq LIMIT 1").fetchone()
        dead = db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        return LogStats(pending_events=c["events"], pending_bytes=c["bytes"],
                        oldest_age_seconds=max(0.0, time.time() - row[0]) if row else 0.0,
                        appended_total=c["appended"], drained_total=c["drained"], dead_letters=dead,
                        head_seq=self.head_seq())

    # -- one drainer per log file ---------------------------------------------------------------------
    def acquire_writer(self) -> bool:
        """Take the file lock that makes this process the log's only drainer (non-blocking)."""
        if self._lock_file is not None:
            return True
        fh = open(str(self.path) + ".writer.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held until released
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_file = fh
        return True

    def release_writer(self) -> None:
        """Give up the drainer lock."""
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


def _entry(row: tuple[Any, ...]) -> LogEntry:
    return LogEntry(seq=row[0], workspace=row[1], source=row[2], received_at=row[3], sent_at=row[4],
                    forced_type=row[5], sec_gpc=row[6], events=orjson.loads(row[7]), nbytes=row[8],
                    appended_at=row[9])
