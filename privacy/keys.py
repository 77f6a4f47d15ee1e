"""Key management: the key-encryption key (KEK), wrapped per-profile data keys and their store.

Each profile has a random 256-bit data key. It is stored only wrapped (AES-256-GCM under the
KEK, bound to the key id) and only in the data-key store, a SQLite file outside Neo4j: a copy
of the graph, however old, holds ciphertext and no key. Deleting a profile's row (crypto-
shredding) makes every copy of its PII unreadable.

Plug points: `KeyProvider` wraps and unwraps data keys (the local KEK here; an external KMS or
HSM implements the same three members), `DataKeyStore` keeps the wrapped keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import VeilError
from core.secrets import BLIND_INDEX_KEY, KEK, Resolved, SecretError, SecretSpec, SecretStore
from privacy.settings import CryptoSettings

KEY_BYTES = 32
NONCE_BYTES = 12


class KeyMaterialError(VeilError, RuntimeError):
    """Key material that is missing, malformed or wrapped by another KEK."""

    code = "configuration_error"
    status = 500


class KeyProvider(Protocol):
    """Wraps and unwraps data keys. Implement this for an external KMS/HSM."""

    kek_id: str

    def wrap(self, data_key: bytes, *, key_id: str) -> bytes:
        """The data key encrypted under the KEK, bound to its key id."""
        ...

    def unwrap(self, wrapped: bytes, *, key_id: str) -> bytes:
        """The data key back; raises if the KEK or the key id does not match."""
        ...


class LocalKeyProvider:
    """A KEK held in process memory (from a file or an environment variable)."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise KeyMaterialError(f"the key-encryption key must be {KEY_BYTES} bytes, got {len(kek)}")
        self._aead = AESGCM(kek)
        self.kek_id = "local:" + hashlib.sha256(b"veil-kek-id" + kek).hexdigest()[:16]

    def wrap(self, data_key: bytes, *, key_id: str) -> bytes:
        """AES-256-GCM of the data key, the key id as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, key_id.encode())

    def unwrap(self, wrapped: bytes, *, key_id: str) -> bytes:
        """Decrypt a wrapped data key (InvalidTag when KEK or key id differ)."""
        return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise KeyMaterialError(f"{what} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyMaterialError(f"{what} must be base64 of {KEY_BYTES} bytes, got {len(raw)} bytes")
    return raw


def read_key(value: str | None, path: Path | None, *, default: str = "", what: str) -> tuple[bytes, bool]:
    """Key bytes from a file (wins) or a value (`default` when neither); the flag is always False
    (kept for callers: no key has a built-in default any more)."""
    if path is not None:
        try:
            return _decode_key(path.read_text(encoding="utf-8"), f"{what} file {path}"), False
        except OSError as exc:
            raise KeyMaterialError(f"cannot read {what} file {path}: {exc}") from exc
    text = value or default
    if not text:
        raise KeyMaterialError(f"no {what} given")
    return _decode_key(text, what), False


def _resolve(spec: SecretSpec, value: str | None, path: Path | None, store: SecretStore | None) -> tuple[bytes, Resolved]:
    # The file setting wins over the value (as before), then the install's own file under var/secrets/.
    try:
        resolved = (store or SecretStore.from_env()).resolve(spec, value=None if path else value, file=path)
    except SecretError as exc:
        raise KeyMaterialError(exc.message) from exc
    where = f"{spec.setting} file {resolved.path}" if resolved.path else spec.setting
    return _decode_key(resolved.value, where), resolved


def kek_from_settings(settings: CryptoSettings, store: SecretStore | None = None) -> tuple[LocalKeyProvider, Resolved]:
    """The configured KEK provider and where its key came from (value, file, install file, generated now)."""
    kek, resolved = _resolve(KEK, settings.kek, settings.kek_file, store)
    return LocalKeyProvider(kek), resolved


def blind_key_from_settings(settings: CryptoSettings, store: SecretStore | None = None) -> tuple[bytes, Resolved]:
    """The blind-index HMAC key and where it came from."""
    return _resolve(BLIND_INDEX_KEY, settings.blind_index_key, settings.blind_index_key_file, store)


def new_key_text() -> str:
    """A fresh random key, base64 (for `veil keys new-kek`)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


@dataclass(frozen=True)
class WrappedKey:
    """One stored data key."""

    key_id: str
    workspace: str
    wrapped: bytes
    kek_id: str


class DataKeyStore(Protocol):
    """Where wrapped data keys live (never in the graph)."""

    def get_many(self, key_ids: Iterable[str]) -> dict[str, WrappedKey]:
        """The stored keys among these ids (missing ones are absent: never created, or shredded)."""
        ...

    def put_many(self, keys: Iterable[WrappedKey]) -> None:
        """Store new keys; an id that already exists keeps its first key."""
        ...

    def delete_many(self, key_ids: Iterable[str]) -> int:
        """Shred keys; returns how many existed."""
        ...

    def count(self) -> int:
        """How many keys are stored."""
        ...

    def iter_all(self, batch: int) -> Iterator[list[WrappedKey]]:
        """Every stored key, in batches (for KEK rotation)."""
        ...

    def replace_many(self, keys: Iterable[WrappedKey]) -> None:
        """Overwrite wrapped keys (rewrapped under a new KEK) in one transaction."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
  key_id TEXT PRIMARY KEY,
  workspace TEXT NOT NULL,
  wrapped BLOB NOT NULL,
  kek_id TEXT NOT NULL,
  created_at TEXT NOT NULL
)
"""
# Every shredded key id, in order: other processes drop it from their key caches within a second
# (privacy.vault polls `shredded_since`), so an erased person cannot be read from a warm cache.
_SHRED_LOG = """
CREATE TABLE IF NOT EXISTS shred_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id TEXT NOT NULL
)
"""


class SqliteKeyStore:
    """Wrapped data keys in a SQLite file (WAL mode; safe for several worker processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        self._conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        if new:
            os.chmod(path, 0o600)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            # A deleted (shredded) key must not linger in free pages of the file.
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_SHRED_LOG)

    def _rows(self, sql: str, params: Iterable[object]) -> list[WrappedKey]:
        with self._lock:
            cur = self._conn.execute(sql, tuple(params))
            return [WrappedKey(r[0], r[1], r[2], r[3]) for r in cur.fetchall()]

    def get_many(self, key_ids: Iterable[str]) -> dict[str, WrappedKey]:
        """The stored keys among these ids."""
        ids = list(dict.fromkeys(key_ids))
        out: dict[str, WrappedKey] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for k in self._rows(f"SELECT key_id, workspace, wrapped, kek_id FROM data_keys "
                                f"WHERE key_id IN ({marks})", chunk):
                out[k.key_id] = k
        return out

    def _write_many(self, sql: str, rows: list[tuple[object, ...]]) -> int:
        """One IMMEDIATE transaction running `sql` for every row; returns the rows changed."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._conn.total_changes
                self._conn.executemany(sql, rows)
                changed = self._conn.total_changes - before
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return changed

    def put_many(self, keys: Iterable[WrappedKey]) -> None:
        """Insert new keys in one transaction (existing ids are left alone)."""
        now = datetime.now(UTC).isoformat()
        rows: list[tuple[object, ...]] = [(k.key_id, k.workspace, k.wrapped, k.kek_id, now) for k in keys]
        if rows:
            self._write_many("INSERT OR IGNORE INTO data_keys VALUES (?, ?, ?, ?, ?)", rows)

    def delete_many(self, key_ids: Iterable[str]) -> int:
        """Delete keys in one transaction; returns how many existed."""
        ids: list[tuple[object, ...]] = [(k,) for k in dict.fromkeys(key_ids)]
        deleted = self._write_many("DELETE FROM data_keys WHERE key_id = ?", ids)
        self._write_many("INSERT INTO shred_log (key_id) VALUES (?)", ids)
        with self._lock:
            # Deleted pages may linger in the file and its WAL: overwrite them now.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def shredded_since(self, seq: int) -> tuple[list[str], int]:
        """Key ids shredded after `seq` (by any process), and the newest sequence number."""
        with self._lock:
            rows = self._conn.execute("SELECT seq, key_id FROM shred_log WHERE seq > ? ORDER BY seq",
                                      (seq,)).fetchall()
        if not rows:
            return [], seq
        return [r[1] for r in rows], int(rows[-1][0])

    def count(self) -> int:
        """How many keys are stored."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM data_keys").fetchone()[0])

    def iter_all(self, batch: int) -> Iterator[list[WrappedKey]]:
        """Every key in key-id order, `batch` at a time."""
        after = ""
        while True:
            rows = self._rows("SELECT key_id, workspace, wrapped, kek_id FROM data_keys WHERE key_id > ? "
                              "ORDER BY key_id LIMIT ?", (after, batch))
            if not rows:
                return
            yield rows
            after = rows[-1].key_id

    def replace_many(self, keys: Iterable[WrappedKey]) -> None:
        """Overwrite the wrapped form and KEK id of existing keys in one transaction."""
        self._write_many("UPDATE data_keys SET wrapped = ?, kek_id = ? WHERE key_id = ?",
                         [(k.wrapped, k.kek_id, k.key_id) for k in keys])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()


@dataclass(frozen=True)
class RotationReport:
    """What a KEK rotation did."""

    rewrapped: int
    already_new: int
    new_kek_id: str


def rotate_kek(*, store: DataKeyStore, old: KeyProvider, new: KeyProvider, batch: int = 1000,
               progress: Callable[[int], None] | None = None) -> RotationReport:
    """Rewrap every data key from the old KEK to the new one, batch by batch (resumable:
    keys already under the new KEK are skipped)."""
    rewrapped = skipped = 0
    for rows in store.iter_all(batch):
        out = []
        for k in rows:
            if k.kek_id == new.kek_id:
                skipped += 1
                continue
            if k.kek_id != old.kek_id:
                raise KeyMaterialError(f"data key {k.key_id} is wrapped by {k.kek_id}, which is neither the current "
                                f"KEK ({old.kek_id}) nor the new one")
            data_key = old.unwrap(k.wrapped, key_id=k.key_id)
            out.append(WrappedKey(k.key_id, k.workspace, new.wrap(data_key, key_id=k.key_id), new.kek_id))
        store.replace_many(out)
        rewrapped += len(out)
        if progress is not None:
            progress(len(rows))
    return RotationReport(rewrapped=rewrapped, already_new=skipped, new_kek_id=new.kek_id)
