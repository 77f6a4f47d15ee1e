"""Field encryption and blind indexes: the one place PII values are sealed and opened.

- Which values are PII follows the masking categories (`privacy.masking`): a trait or
  identifier type whose category is not `non_pii` is sealed before it reaches Neo4j.
- A sealed value is `enc1:<key id>:<base64 nonce+ciphertext>`: AES-256-GCM under the data key
  of the profile it was written for (the key id is that profile's id, also the associated
  data). Values keep their key id when a merge moves them, so erasing a merged cluster shreds
  every key its values were sealed under.
- Identifier node keys of PII types are blind indexes: `workspace|type|~HMAC(value)`, keyed by
  a key of their own (not derived from the KEK, so a KEK rotation keeps every lookup).
- Unwrapped data keys are cached in memory (LRU, bounded, with an age limit); key creation
  and loading are batched per ingest batch or read page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.keys import (
    KEY_BYTES,
    NONCE_BYTES,
    DataKeyStore,
    KeyMaterialError,
    KeyProvider,
    WrappedKey,
)
from privacy.masking import PiiCategory, identifier_category, trait_category

ENVELOPE = "enc1:"
BLIND_MARK = "~"
# Interaction fields that may carry personal data (free-form JSON, URLs with query strings).
SEALED_INTERACTION_FIELDS = ("properties", "context", "page_url", "referrer")


def is_pii_trait(name: str) -> bool:
    """Whether a trait's values are sealed (its category is not non-PII)."""
    return trait_category(name) is not PiiCategory.NON_PII


def is_pii_identifier(kind: str) -> bool:
    """Whether an identifier type's values are sealed and indexed blindly."""
    return identifier_category(kind) is not PiiCategory.NON_PII


def is_sealed(value: Any) -> bool:
    """Whether a stored value is an encrypted envelope."""
    return isinstance(value, str) and value.startswith(ENVELOPE)


def key_id_of(value: str) -> str:
    """The data key id a sealed value was written under."""
    return value[len(ENVELOPE):].split(":", 1)[0]


class FieldVault:
    """Seals and opens PII values with per-profile data keys; computes blind indexes."""

    def __init__(self, *, provider: KeyProvider, store: DataKeyStore, blind_key: bytes, enabled: bool = True,
                 cache_size: int = 50_000, cache_seconds: float = 300.0) -> None:
        self.provider = provider
        self.store = store
        self.enabled = enabled
        self._blind = hmac.new(blind_key, digestmod=hashlib.sha256)
        self._cache: OrderedDict[str, tuple[AESGCM, float]] = OrderedDict()
        self._cache_size = max(cache_size, 16)
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        # Shreds by other processes: polled at most once a second (see SqliteKeyStore.shred_log).
        self._shred_check_seconds = 1.0
        self._shred_checked = 0.0
        self._shred_seq = -1

    def _drop_shredded(self, now: float) -> None:
        """Forget cached keys another process shredded (an erasure there must hold here too)."""
        poll = getattr(self.store, "shredded_since", None)
        if poll is None or now - self._shred_checked < self._shred_check_seconds:
            return
        self._shred_checked = now
        if self._shred_seq < 0:  # first poll: start from the newest; this cache is empty or fresh
            _, self._shred_seq = poll(0)
            return
        ids, self._shred_seq = poll(self._shred_seq)
        for k in ids:
            self._cache.pop(k, None)

    # -- blind indexes ---------------------------------------------------------------------

    def blind_index(self, workspace: str, kind: str, value: str) -> str:
        """Keyed HMAC-SHA256 of a normalised value, scoped to workspace and type (128 bits, base64url)."""
        h = self._blind.copy()
        h.update(f"{workspace}\x1f{kind}\x1f{value}".encode())
        return base64.urlsafe_b64encode(h.digest()[:16]).decode().rstrip("=")

    def identifier_key(self, workspace: str, kind: str, value: str) -> str:
        """The unique key of an identifier node: a blind index for PII types, the value otherwise."""
        if is_pii_identifier(kind):
            return f"{workspace}|{kind}|{BLIND_MARK}{self.blind_index(workspace, kind, value)}"
        return f"{workspace}|{kind}|{value}"

    # -- data keys -------------------------------------------------------------------------

    def _cached(self, key_id: str, now: float) -> AESGCM | None:
        self._drop_shredded(now)
        hit = self._cache.get(key_id)
        if hit is None:
            return None
        if now - hit[1] > self._cache_seconds:
            del self._cache[key_id]
            return None
        self._cache.move_to_end(key_id)
        return hit[0]

    def _remember(self, key_id: str, aead: AESGCM, now: float) -> None:
        self._cache[key_id] = (aead, now)
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def prepare(self, workspace: str, key_ids: Iterable[str], *, create: bool) -> None:
        """Make these data keys usable: cached ones stay, the rest load in one store call and, with
        `create`, missing ones are generated and stored in one transaction."""
        if not self.enabled and create:
            return
        now = time.monotonic()
        with self._lock:
            missing = [k for k in dict.fromkeys(key_ids) if self._cached(k, now) is None]
        if not missing:
            return
        found = self.store.get_many(missing)
        if create:
            fresh = [k for k in missing if k not in found]
            if fresh:
                self.store.put_many(WrappedKey(k, workspace, self.provider.wrap(os.urandom(KEY_BYTES), key_id=k),
                                               self.provider.kek_id) for k in fresh)
                # Re-read: another process may have created the same key first (INSERT OR IGNORE).
                found.update(self.store.get_many(fresh))
        opened = {}
        for key_id, w in found.items():
            if w.kek_id != self.provider.kek_id:
                raise KeyMaterialError(
                    f"data key {key_id} is wrapped by KEK {w.kek_id}, but the configured KEK is "
                    f"{self.provider.kek_id}: finish the rotation (veil keys rotate-kek --old-kek-file ...)")
            opened[key_id] = AESGCM(self.provider.unwrap(w.wrapped, key_id=key_id))
        with self._lock:
            for key_id, aead in opened.items():
                self._remember(key_id, aead, now)

    def _aead(self, key_id: str) -> AESGCM | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cached(key_id, now)
        if hit is not None:
            return hit
        self.prepare("", [key_id], create=False)
        with self._lock:
            return self._cached(key_id, now)

    def forget(self, key_ids: Iterable[str]) -> None:
        """Drop keys from this process's cache."""
        with self._lock:
            for k in key_ids:
                self._cache.pop(k, None)

    def shred(self, key_ids: Iterable[str]) -> int:
        """Delete data keys for good (crypto-shredding); returns how many existed."""
        ids = list(key_ids)
        self.forget(ids)
        return self.store.delete_many(ids)

    # -- sealing ---------------------------------------------------------------------------

    def seal(self, key_id: str, value: Any) -> Any:
        """Encrypt a JSON-able value under a profile's data key (call `prepare` first for speed)."""
        if not self.enabled or value is None:
            return value
        aead = self._aead(key_id)
        if aead is None:
            raise LookupError(f"no data key {key_id}; call prepare(create=True) first")
        nonce = os.urandom(NONCE_BYTES)
        blob = aead.encrypt(nonce, orjson.dumps(value), key_id.encode())
        return f"{ENVELOPE}{key_id}:{base64.b64encode(nonce + blob).decode()}"

    def open(self, value: Any) -> Any:
        """The plaintext of a sealed value (None when its key is gone); other values unchanged."""
        if not is_sealed(value):
            return value
        key_id, _, text = value[len(ENVELOPE):].partition(":")
        aead = self._aead(key_id)
        if aead is None:
            return None
        try:
            raw = base64.b64decode(text)
            return orjson.loads(aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode()))
        except (InvalidTag, ValueError):
            return None

    def preload(self, values: Iterable[Any]) -> None:
        """Load, in one store call, the keys these sealed values need."""
        ids = {key_id_of(v) for v in values if is_sealed(v)}
        if ids:
            self.prepare("", ids, create=False)
