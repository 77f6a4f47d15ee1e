"""The product's secrets: provided by the operator, or generated once per install under var/.

No secret has a value in the source. Each one is resolved in this order:

1. the setting's value (an environment variable such as ``VEIL_AUTH_JWT_SECRET``);
2. the setting's file (``VEIL_AUTH_JWT_SECRET_FILE``), read as is (surrounding whitespace trimmed);
3. the install's own file ``<VEIL_SECRETS_DIR>/<name>`` (default ``var/secrets/<name>``), which a
   development or test install generates on first use. Files are created atomically with mode
   0600 in a 0700 directory and are never overwritten once present.

With ``VEIL_ENV=prod`` nothing is generated at start-up: a secret that is neither provided nor was
generated before (``veil secrets init``) stops the process with an error naming both ways.
"""

from __future__ import annotations

import base64
import os
import secrets as _random
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import VeilError

DIR_MODE = 0o700
FILE_MODE = 0o600
Source = Literal["value", "file", "install", "generated"]


class SecretError(VeilError):
    """A secret is missing (prod), unreadable, malformed or readable by other users."""

    code = "secret_unavailable"
    status = 500


class SecretsSettings(BaseSettings):
    """Where an install keeps its generated secrets (environment prefix VEIL_SECRETS_)."""

    model_config = SettingsConfigDict(env_prefix="VEIL_SECRETS_", extra="ignore")

    dir: Path = Field(Path("var/secrets"), description="Directory (0700) of the install's generated secret "
                                                      "files (0600), one file per secret")
    generate: bool = Field(True, description="Generate a missing secret on first use (never with VEIL_ENV=prod: "
                                             "there run `veil secrets init` once, or provide every secret)")


def token_secret() -> bytes:
    """48 random bytes, URL-safe base64 (HMAC and JWT secrets)."""
    return _random.token_urlsafe(48).encode("ascii")


def password_secret() -> bytes:
    """24 random bytes, URL-safe base64 (a database password)."""
    return _random.token_urlsafe(24).encode("ascii")


def key32_secret() -> bytes:
    """32 random bytes, standard base64 (AES-256 and blind-index keys)."""
    return base64.b64encode(os.urandom(32))


@dataclass(frozen=True)
class SecretSpec:
    """One secret of the product: its file name, its settings and how a fresh one is made."""

    name: str
    setting: str  # the environment variable of the value; the file setting is setting + "_FILE"
    make: Callable[[], bytes]
    purpose: str

    @property
    def file_setting(self) -> str:
        """The environment variable naming a file that holds the secret."""
        return self.setting + "_FILE"


JWT_SECRET = SecretSpec("jwt-secret", "VEIL_AUTH_JWT_SECRET", token_secret, "HS256 key of staff tokens")
HMAC_KEY = SecretSpec("hmac-key", "VEIL_PRIVACY_HMAC_KEY", token_secret,
                      "key of the hmac masking strategy, ingestion tokens and audit pseudonyms")
KEK = SecretSpec("kek", "VEIL_CRYPTO_KEK", key32_secret, "key-encryption key wrapping every data key")
BLIND_INDEX_KEY = SecretSpec("blind-index-key", "VEIL_CRYPTO_BLIND_INDEX_KEY", key32_secret,
                             "HMAC key of the blind indexes (lookups by e-mail/phone)")
NEO4J_PASSWORD = SecretSpec("neo4j-password", "VEIL_NEO4J_PASSWORD", password_secret,
                            "password of the neo4j user (set on a fresh local store by deploy/neo4j.sh)")
PRODUCT_SECRETS: tuple[SecretSpec, ...] = (JWT_SECRET, HMAC_KEY, KEK, BLIND_INDEX_KEY, NEO4J_PASSWORD)
# The audit checkpoint key (Ed25519, PEM) is created by audit/checkpoint.py with `create_secret_file`.
AUDIT_KEY_NAME = "audit-checkpoint.key"


@dataclass(frozen=True)
class Resolved:
    """A secret's value and where it came from (never logged: `value` is left out of repr)."""

    value: str = field(repr=False)
    source: Source
    path: Path | None = None


def check_private(path: Path) -> None:
    """Refuse a secret file that other users may read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SecretError(f"cannot read secret file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"secret file {path} is accessible to other users (mode {stat.S_IMODE(mode):o}); "
                          f"run chmod 600 {path}")


def read_secret_file(path: Path, *, what: str, private: bool = True) -> str:
    """The trimmed text of a secret file; SecretError when missing, empty, or (`private`) open to others.

    Files the operator names in a setting are not mode-checked (mounted secrets are often 0440/0444);
    the install's own files are.
    """
    if private:
        check_private(path)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"cannot read {what} from {path}: {exc}") from exc
    if not text:
        raise SecretError(f"{what} file {path} is empty")
    return text


def _ensure_dir(directory: Path) -> None:
    if not directory.exists():
        # Parents are ordinary directories (var/); only the last one holds secrets.
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        os.chmod(directory, DIR_MODE)


def create_secret_file(path: Path, data: bytes) -> bool:
    """Write `data` to `path` with mode 0600, atomically and never over an existing file.

    Returns False when the file already existed (another process won the race; use its value).
    The parent directory is created with mode 0700.
    """
    _ensure_dir(path.parent)
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails instead of replacing: a complete file or none
        except FileExistsError:
            return False
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


class SecretStore:
    """Resolves the product's secrets for one process (see the module docstring)."""

    def __init__(self, directory: Path, *, generate: bool, env: str = "dev") -> None:
        self.directory = directory
        self.generate = generate
        self.env = env

    @classmethod
    def from_env(cls, env: str | None = None) -> SecretStore:
        """The store of this process: VEIL_SECRETS_DIR / VEIL_SECRETS_GENERATE, and VEIL_ENV unless given."""
        settings = SecretsSettings()
        env = env or os.environ.get("VEIL_ENV", "dev").strip().lower() or "dev"
        return cls(settings.dir, generate=settings.generate and env != "prod", env=env)

    def path(self, name: str) -> Path:
        """Where the install's own copy of a secret lives."""
        return self.directory / name

    def resolve(self, spec: SecretSpec, *, value: str | None, file: Path | None) -> Resolved:
        """The secret from its value, its file setting, or the install's file (generated if allowed)."""
        if value is not None and value.strip():
            return Resolved(value.strip(), "value")
        if file is not None:
            return Resolved(read_secret_file(file, what=spec.file_setting, private=False), "file", file)
        path = self.path(spec.name)
        if path.exists():
            return Resolved(read_secret_file(path, what=spec.setting), "install", path)
        if not self.generate:
            raise SecretError(
                f"{spec.setting} is not set ({spec.purpose}). With VEIL_ENV={self.env} Veil does not generate "
                f"secrets at start-up: set {spec.setting}, or {spec.file_setting} to a file (mode 0600) holding "
                f"it, or run `veil secrets init` once to generate {path}", field=spec.setting)
        created = create_secret_file(path, spec.make())
        return Resolved(read_secret_file(path, what=spec.setting), "generated" if created else "install", path)

    def ensure(self, spec: SecretSpec) -> tuple[Path, bool]:
        """Generate the install's file of a secret if missing, whatever the environment (`veil secrets init`)."""
        path = self.path(spec.name)
        created = create_secret_file(path, spec.make())
        read_secret_file(path, what=spec.setting)
        return path, created


def _main(argv: list[str]) -> int:
    """`python -m core.secrets ensure NAME`: create the install's file of a secret, print its path.

    deploy/neo4j.sh uses it for the Neo4j password, so the server and the app share one file.
    """
    specs = {s.name: s for s in PRODUCT_SECRETS}
    if len(argv) != 2 or argv[0] != "ensure" or argv[1] not in specs:
        print(f"usage: python -m core.secrets ensure {{{'|'.join(specs)}}}", file=sys.stderr)
        return 2
    try:
        path, _ = SecretStore.from_env().ensure(specs[argv[1]])
    except SecretError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
