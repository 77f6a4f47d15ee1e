"""API keys (hashed) and staff users (argon2 hashes) in the graph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from graph.driver import Repository

CREATE_KEY = """
CREATE (k:ApiKey {id: $id, workspace: $workspace, role: $role, name: $name, key_hash: $key_hash,
                  key_prefix: $prefix, created_at: $now, created_by: $actor, disabled: false})
"""
KEY_BY_HASH = """
MATCH (k:ApiKey {key_hash: $key_hash})
RETURN k.id AS id, k.workspace AS workspace, k.role AS role, k.name AS name, k.disabled AS disabled
"""
LIST_KEYS = """
MATCH (k:ApiKey {workspace: $workspace})
RETURN k.id AS id, k.workspace AS workspace, k.role AS role, k.name AS name, k.disabled AS disabled
ORDER BY k.created_at
"""
REVOKE_KEY = "MATCH (k:ApiKey {id: $id, workspace: $workspace}) SET k.disabled = true, k.revoked_at = $now RETURN k.id AS id"
CREATE_USER = """
CREATE (u:User {id: $id, username: $username, password_hash: $hash, created_at: $now, disabled: false})
"""
USER_BY_NAME = """
MATCH (u:User {username: $username})
RETURN u.id AS id, u.username AS username, u.password_hash AS hash, u.disabled AS disabled
"""
SET_USER_HASH = "MATCH (u:User {id: $id}) SET u.password_hash = $hash"
USER_BY_ID = """
MATCH (u:User {id: $id})
RETURN u.id AS id, u.username AS username, u.disabled AS disabled, coalesce(u.token_epoch, 0) AS epoch
"""
# Disabling also moves the token epoch: tokens issued before stay dead after a later enable.
SET_USER_DISABLED = """
MATCH (u:User {username: $username})
SET u.disabled = $disabled,
    u.token_epoch = coalesce(u.token_epoch, 0) + CASE WHEN $disabled THEN 1 ELSE 0 END,
    u.disabled_changed_at = $now
RETURN u.id AS id
"""


@dataclass(frozen=True)
class ApiKeyRecord:
    """An app's API key: one role in one workspace."""

    id: str
    workspace: str
    role: str
    name: str
    disabled: bool


@dataclass(frozen=True)
class UserRecord:
    """A staff user (roles come from the policy store, per workspace)."""

    id: str
    username: str
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class UserStatus:
    """What authenticating a staff token needs to know about its user now."""

    id: str
    username: str
    disabled: bool
    token_epoch: int


class PrincipalRepository(Repository):
    """Reads and writes of API keys and users."""

    def create_key(self, *, key_id: str, workspace: str, role: str, name: str, key_hash: str, prefix: str,
                   actor: str) -> None:
        """Store a new API key."""
        self.driver.execute_query(CREATE_KEY, id=key_id, workspace=workspace, role=role, name=name,
                                  key_hash=key_hash, prefix=prefix, actor=actor, now=datetime.now(UTC),
                                  database_=self.database)

    def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, or None."""
        rows = self._read(KEY_BY_HASH, key_hash=key_hash)
        return ApiKeyRecord(**{k: rows[0][k] for k in ("id", "workspace", "role", "name", "disabled")}) if rows else None

    def list_keys(self, *, workspace: str) -> list[ApiKeyRecord]:
        """Keys of a workspace."""
        return [ApiKeyRecord(**{k: r[k] for k in ("id", "workspace", "role", "name", "disabled")})
                for r in self._read(LIST_KEYS, workspace=workspace)]

    def revoke_key(self, *, key_id: str, workspace: str) -> bool:
        """Disable a key."""
        records, _, _ = self.driver.execute_query(REVOKE_KEY, id=key_id, workspace=workspace,
                                                  now=datetime.now(UTC), database_=self.database)
        return bool(records)

    def create_user(self, *, user_id: str, username: str, password_hash: str) -> None:
        """Store a new user."""
        self.driver.execute_query(CREATE_USER, id=user_id, username=username, hash=password_hash,
                                  now=datetime.now(UTC), database_=self.database)

    def user_by_name(self, username: str) -> UserRecord | None:
        """The user with this name, or None."""
        rows = self._read(USER_BY_NAME, username=username)
        if not rows:
            return None
        r = rows[0]
        return UserRecord(r["id"], r["username"], r["hash"], bool(r["disabled"]))

    def set_password_hash(self, *, user_id: str, password_hash: str) -> None:
        """Replace a user's hash (argon2 rehash on login)."""
        self.driver.execute_query(SET_USER_HASH, id=user_id, hash=password_hash, database_=self.database)

    def user_status(self, user_id: str) -> UserStatus | None:
        """The user with this id (no password hash), or None."""
        rows = self._read(USER_BY_ID, id=user_id)
        if not rows:
            return None
        r = rows[0]
        return UserStatus(r["id"], r["username"], bool(r["disabled"]), int(r["epoch"]))

    def set_user_disabled(self, *, username: str, disabled: bool) -> str | None:
        """Disable or enable a user by name; returns its id, or None when there is no such user."""
        records = self._write(SET_USER_DISABLED, username=username, disabled=disabled, now=datetime.now(UTC))
        return str(records[0]["id"]) if records else None
