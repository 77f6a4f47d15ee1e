"""Signed checkpoints of the audit chain: an Ed25519 signature over (seq, hash, at, key_id).

The hash chain shows that records fit together, not that they are the records written: anyone
with write access to Neo4j can edit a record and recompute every later hash, or delete the tail
and move the head back. A checkpoint is the chain hash at a seq, signed with a key kept outside
Neo4j (`AuditSettings.checkpoint_key_file`). Without that key no one can sign a matching
checkpoint, so verification finds:

- a rewritten chain: the stored hash at a checkpoint's seq is not the signed one;
- a truncated tail: the head is below the latest checkpoint's seq;
- a forged or edited checkpoint: its signature does not verify with a trusted public key.

Checkpoints are stored as (:AuditCheckpoint) nodes (signature and key id; never the private
key) and appended to an outside copy (`checkpoint_copy_file`) that still holds them if the
nodes are deleted. Its lines name the Neo4j store they belong to, so that databases sharing one
`var/` (development and test) do not read each other's checkpoints.

The signed bytes are `SIGNING_CONTEXT` followed by the canonical JSON of seq, hash, at and
key_id (sorted keys, no whitespace, `at` as UTC ISO-8601 with microseconds and 'Z'), so another
implementation can check them; key_id is the first 16 hex digits of the SHA-256 of the raw
32-byte public key.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.settings import AuditSettings
from core.errors import VeilError
from core.secrets import SecretStore, create_secret_file

SIGNING_CONTEXT = b"veil.audit.checkpoint.v1\n"
KEY_ID_CHARS = 16


class CheckpointKeyError(VeilError, RuntimeError):
    """The checkpoint key file is missing (and may not be created), unreadable or unsafe."""

    code = "checkpoint_key_error"
    status = 500


class CheckpointProblem(str, Enum):
    """Why verification against the signed checkpoints fails (beside `audit.chain.Problem`)."""

    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # chain rewritten at or before the checkpoint
    TRUNCATED = "truncated"  # head below a signed checkpoint: tail deleted
    BAD_SIGNATURE = "bad_signature"  # checkpoint forged, edited or signed by an untrusted key


@dataclass(frozen=True)
class Checkpoint:
    """The chain hash at `seq`, signed (`signature`, hex) by the key `key_id`."""

    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the signed fields and the signature."""
        return {**_signed_fields(self.seq, self.hash, self.at, self.key_id), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Parse the JSON form; raises ValueError if a field is missing or of the wrong type."""
        try:
            seq, digest, key, signature = data["seq"], data["hash"], data["key_id"], data["signature"]
            at = datetime.fromisoformat(data["at"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from exc
        if not isinstance(seq, int) or isinstance(seq, bool) or at.tzinfo is None:
            raise ValueError("not a checkpoint: seq must be an integer and at timezone-aware")
        if not all(isinstance(v, str) for v in (digest, key, signature)):
            raise ValueError("not a checkpoint: hash, key_id and signature must be strings")
        return cls(seq=seq, hash=digest, at=at.astimezone(UTC), key_id=key, signature=signature)


def _signed_fields(seq: int, digest: str, at: datetime, key: str) -> dict[str, Any]:
    when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"seq": seq, "hash": digest, "at": when, "key_id": key}


def signed_bytes(seq: int, digest: str, at: datetime, key: str) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    body = json.dumps(_signed_fields(seq, digest, at, key), sort_keys=True, separators=(",", ":"))
    return SIGNING_CONTEXT + body.encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable id of a public key (SHA-256 of its raw bytes, first 16 hex digits)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_CHARS]


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, hash: str, at: datetime) -> Checkpoint:
    """Sign the chain hash at `seq` (as of `at`, timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    kid = key_id(key.public_key())
    signature = key.sign(signed_bytes(seq, hash, at, kid)).hex()
    return Checkpoint(seq=seq, hash=hash, at=at.astimezone(UTC), key_id=kid, signature=signature)


def verify_checkpoint(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    """True if the checkpoint names this key and its signature covers its fields."""
    if checkpoint.key_id != key_id(public_key):
        return False
    try:
        signature = bytes.fromhex(checkpoint.signature)
        public_key.verify(signature, signed_bytes(checkpoint.seq, checkpoint.hash, checkpoint.at,
                                                  checkpoint.key_id))
    except (InvalidSignature, ValueError, TypeError, OverflowError):
        return False
    return True


def _load_private(path: Path) -> Ed25519PrivateKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointKeyError(f"checkpoint key {path} is accessible to other users; chmod 600 it")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointKeyError(f"checkpoint key {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"checkpoint key {path} is not an Ed25519 key")
    return key


def _create_private(path: Path) -> Ed25519PrivateKey:
    """Write a new key with mode 0600 (directory 0700); if another process won the race, use its key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    if not create_secret_file(path, pem):
        return _load_private(path)
    return key


def may_create_key(settings: AuditSettings, env: str | None = None) -> bool:
    """Whether a missing key may be created: the setting, else yes unless VEIL_ENV=prod (or
    VEIL_SECRETS_GENERATE=false)."""
    if settings.auto_create_key is not None:
        return settings.auto_create_key
    return SecretStore.from_env(env).generate


def load_or_create_key(settings: AuditSettings) -> Ed25519PrivateKey | None:
    """The signing key from `checkpoint_key_file`, created if missing and allowed; None if unset."""
    path = settings.checkpoint_key_file
    if path is None:
        return None
    if path.exists():
        return _load_private(path)
    if not may_create_key(settings):
        raise CheckpointKeyError(
            f"checkpoint key {path} is missing and may not be created here (VEIL_ENV=prod or "
            "VEIL_AUDIT_AUTO_CREATE_KEY=false): restore the key, point VEIL_AUDIT_CHECKPOINT_KEY_FILE at it, "
            "or run `veil secrets init` once on a new install")
    return _create_private(path)


def trusted_keys(settings: AuditSettings) -> dict[str, Ed25519PublicKey]:
    """Public keys that verification accepts, by key id: the current key's and earlier ones'.

    Never creates a key: a verifier that made a new key would only trust that new key.
    """
    keys: list[Ed25519PublicKey] = []
    path = settings.checkpoint_key_file
    if path is not None and path.exists():
        keys.append(_load_private(path).public_key())
    for extra in settings.trusted_public_key_files:
        try:
            public = serialization.load_pem_public_key(extra.read_bytes())
        except (OSError, ValueError) as exc:
            raise CheckpointKeyError(f"trusted public key {extra} can not be read") from exc
        if not isinstance(public, Ed25519PublicKey):
            raise CheckpointKeyError(f"trusted public key {extra} is not an Ed25519 key")
        keys.append(public)
    return {key_id(k): k for k in keys}


def append_copy(path: Path, checkpoint: Checkpoint, *, store: str) -> None:
    """Append a checkpoint to the outside copy (one JSON line, written with a single append)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**checkpoint.to_dict(), "store": store}, sort_keys=True, separators=(",", ":"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_copy(path: Path, *, store: str) -> list[Checkpoint]:
    """The outside copy's checkpoints of one Neo4j store; raises ValueError on a malformed line."""
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                if data.get("store") == store:
                    out.append(Checkpoint.from_dict(data))
            except (ValueError, AttributeError) as exc:
                raise ValueError(f"{path}:{number}: malformed checkpoint line") from exc
    return out


@dataclass(frozen=True)
class CheckpointFinding:
    """The first seq that the checkpoints prove bad, and why."""

    seq: int
    problem: CheckpointProblem
    detail: str


@dataclass(frozen=True)
class CheckpointCheck:
    """How many checkpoints verified, the latest good one, and the first finding if any."""

    verified: int
    latest_seq: int | None
    finding: CheckpointFinding | None


def check_checkpoints(
    checkpoints: Iterable[Checkpoint],
    *,
    keys: Mapping[str, Ed25519PublicKey],
    head_seq: int,
    hashes: Mapping[int, str],
    after_seq: int = 0,
) -> CheckpointCheck:
    """Check signatures, the head against the latest checkpoint, and the stored hash at each seq.

    `hashes` are the stored records' hashes at the checkpoints' seqs. Stops at the first
    finding, which (checkpoints taken in seq order) is the lowest seq they prove bad.
    """
    verified, good = 0, None
    unique = {(c.seq, c.signature): c for c in checkpoints}
    for cp in sorted(unique.values(), key=lambda c: c.seq):
        public = keys.get(cp.key_id)
        if public is None or not verify_checkpoint(public, cp):
            why = "signature does not verify" if public else f"key id {cp.key_id!r} is not a trusted key"
            return CheckpointCheck(verified, good, CheckpointFinding(
                cp.seq, CheckpointProblem.BAD_SIGNATURE, f"checkpoint at seq {cp.seq}: {why} (forged or edited)"))
        if cp.seq > head_seq:
            return CheckpointCheck(verified, good, CheckpointFinding(
                head_seq + 1, CheckpointProblem.TRUNCATED,
                f"head is at seq {head_seq} but a signed checkpoint covers seq {cp.seq} (tail deleted)"))
        if hashes.get(cp.seq) != cp.hash:
            since = max(good or 0, after_seq) + 1
            return CheckpointCheck(verified, good, CheckpointFinding(
                cp.seq, CheckpointProblem.CHECKPOINT_MISMATCH,
                f"seq {cp.seq}: stored hash differs from the signed checkpoint "
                f"(chain rewritten within seq {since}..{cp.seq})"))
        verified, good = verified + 1, cp.seq
    return CheckpointCheck(verified, good, None)
