"""Write keys: creation, hashing and cached lookup. A write key can only ingest."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from collect.origins import normalize_origin, origin_matches
from core.errors import NotFoundError
from graph.sources import SourceRecord, SourceRepository

KEY_PREFIX = "vwk_"
_CACHE_TTL_S = 30.0


def hash_key(key: str) -> str:
    """SHA-256 of a write key (keys are 256-bit random, so a fast hash is enough)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSource:
    """A created source and its write key (shown once)."""

    source: SourceRecord
    write_key: str


class SourceService:
    """Creates sources and authenticates write keys, with a short positive/negative cache."""

    def __init__(self, repo: SourceRepository, *, default_origins: list[str] | None = None) -> None:
        self.repo = repo
        self._cache: dict[str, tuple[float, SourceRecord | None]] = {}
        self._lock = threading.Lock()
        # Origins every source allows (VEIL_COLLECT_CORS_ORIGINS), besides each source's own.
        self.default_origins = tuple(normalize_origin(o) for o in default_origins or ())
        self._origins: tuple[float, set[str]] | None = None

    def create(self, *, workspace: str, name: str, kind: str = "http", write_key: str | None = None) -> NewSource:
        """Create a source in a workspace and return its write key."""
        key = write_key or KEY_PREFIX + secrets.token_urlsafe(32)
        source_id = f"src_{uuid.uuid4().hex[:16]}"
        self.repo.create_source(
            source_id=source_id, workspace=workspace, name=name, kind=kind,
            key_hash=hash_key(key), key_prefix=key[:8],
        )
        return NewSource(SourceRecord(source_id, workspace, name, kind, False, key[:8]), key)

    def authenticate(self, write_key: str) -> SourceRecord | None:
        """The enabled source for this write key, or None."""
        h = hash_key(write_key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
        if hit and now - hit[0] < _CACHE_TTL_S:
            return hit[1]
        try:
            source = self.repo.get_by_key_hash(h)
        except Exception:
            # Graph store down: a key seen before keeps working, so acks from the durable log continue.
            if hit is not None:
                return hit[1]
            raise
        if source is not None and source.disabled:
            source = None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now, source)
        return source

    def set_allowed_origins(self, *, source_id: str, origins: list[str], workspace: str | None = None) -> list[str]:
        """Validate and store a source's browser origins; raises OriginError, or NotFoundError when the
        workspace has no such source."""
        clean = sorted({normalize_origin(o) for o in origins})
        if not self.repo.set_allowed_origins(source_id=source_id, origins=clean, workspace=workspace):
            raise NotFoundError(f"no source {source_id}", field="source_id")
        with self._lock:
            self._cache.clear()
            self._origins = None
        return clean

    def origin_allowed(self, source: SourceRecord, origin: str) -> bool:
        """May a page on this origin send events with this source's key?"""
        return origin_matches(origin, self.default_origins) or origin_matches(origin, source.allowed_origins)

    def origin_allowed_anywhere(self, origin: str) -> bool:
        """Does any enabled source allow this origin (how a preflight, which has no key, is answered)?"""
        if origin_matches(origin, self.default_origins):
            return True
        now = time.monotonic()
        with self._lock:
            cached = self._origins
        if cached is None or now - cached[0] >= _CACHE_TTL_S:
            cached = (now, self.repo.all_allowed_origins())
            with self._lock:
                self._origins = cached
        return origin_matches(origin, cached[1])
