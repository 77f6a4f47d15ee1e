"""Authentication: app API keys, staff users (argon2 + short-lived JWT), optional OIDC JWTs.

A staff token only names a user and a workspace. Every request checks that the user exists and
is enabled, and takes the roles the policy store grants in that workspace now: a token cannot
grant roles, and disabling a user or revoking a role stops its tokens at once (in this process;
other processes see it within `user_cache_seconds` and the policy version check, 1 s each).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from access.authz import Authorizer
from access.principal import ROLES, Principal, PrincipalKind
from collect.sources import hash_key
from core.errors import VeilError
from core.secrets import JWT_SECRET, SecretStore
from graph.policies import PolicyRule
from graph.principals import ApiKeyRecord, PrincipalRepository, UserStatus

API_KEY_PREFIX = "vak_"
KEY_CACHE_SECONDS = 5.0


class AuthSettings(BaseSettings):
    """Token settings (environment prefix VEIL_AUTH_)."""

    model_config = SettingsConfigDict(env_prefix="VEIL_AUTH_", extra="ignore")

    jwt_secret: str = Field("", repr=False, description="HS256 secret of staff tokens; unset: jwt_secret_file, "
                                                        "else var/secrets/jwt-secret (generated outside prod)")
    jwt_secret_file: Path | None = Field(None, description="File holding the HS256 secret of staff tokens")
    token_ttl_minutes: int = Field(15, description="Lifetime of a staff token")
    user_cache_seconds: float = Field(1.0, ge=0, le=5, description="How long a process trusts a looked-up token "
                                                                   "user (a disable elsewhere applies within this)")
    oidc_jwks_file: Path | None = Field(None, description="JWKS file of an external OIDC provider (offline)")
    oidc_issuer: str | None = Field(None, description="Expected issuer of OIDC tokens")
    oidc_audience: str | None = Field(None, description="Expected audience of OIDC tokens")
    oidc_roles_claim: str = Field("veil_roles", description="Claim holding Veil role names")
    oidc_workspace_claim: str = Field("veil_workspace", description="Claim holding the workspace")

    def with_secrets(self, store: SecretStore | None = None) -> AuthSettings:
        """A copy whose jwt_secret holds the resolved secret (value, file, or the install's file)."""
        resolved = (store or SecretStore.from_env()).resolve(JWT_SECRET, value=self.jwt_secret,
                                                             file=self.jwt_secret_file)
        return self.model_copy(update={"jwt_secret": resolved.value})


class AuthError(VeilError):
    """Authentication failed (mapped to 401 / UNAUTHENTICATED)."""

    status = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuthService:
    """Issues and verifies credentials; role assignments live in the authorization policy."""

    def __init__(self, repo: PrincipalRepository, authz: Authorizer, settings: AuthSettings) -> None:
        self.repo = repo
        self.authz = authz
        self.settings = settings if settings.jwt_secret else settings.with_secrets()
        self.hasher = PasswordHasher()
        self._key_cache: dict[str, tuple[float, ApiKeyRecord | None]] = {}
        self._user_cache: dict[str, tuple[float, UserStatus | None]] = {}

    # --- API keys -------------------------------------------------------------------------
    def create_api_key(self, *, workspace: str, role: str, name: str, actor: str) -> tuple[ApiKeyRecord, str]:
        """A new API key for an app; the key is returned once."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = uuid.uuid4().hex[:16]
        self.repo.create_key(key_id=key_id, workspace=workspace, role=role, name=name,
                             key_hash=hash_key(key), prefix=key[:8], actor=actor)
        return ApiKeyRecord(key_id, workspace, role, name, False), key

    def authenticate_api_key(self, key: str) -> Principal:
        """The principal of an API key (lookups cached for a few seconds; revocation applies within that)."""
        h = hash_key(key)
        now = time.monotonic()
        hit = self._key_cache.get(h)
        if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
            rec = hit[1]
        else:
            rec = self.repo.key_by_hash(h)
            if len(self._key_cache) > 10_000:
                self._key_cache = {}
            self._key_cache[h] = (now, rec)
        if rec is None or rec.disabled:
            raise AuthError("invalid_credentials", "unknown or revoked API key")
        return Principal(id=f"key:{rec.id}", kind=PrincipalKind.API_KEY, workspace=rec.workspace,
                         roles=(rec.role,), name=rec.name)

    def forget_cached_keys(self) -> None:
        """Drop cached key lookups (after a revocation)."""
        self._key_cache = {}

    # --- users ----------------------------------------------------------------------------
    def create_user(self, *, username: str, password: str) -> str:
        """A new staff user; returns its id."""
        if len(password) < 12:
            raise ValueError("passwords need at least 12 characters")
        if self.repo.user_by_name(username) is not None:
            raise ValueError(f"user {username!r} already exists")
        user_id = uuid.uuid4().hex[:16]
        self.repo.create_user(user_id=user_id, username=username, password_hash=self.hasher.hash(password))
        return user_id

    def assign_role(self, *, user_id: str, role: str, workspace: str, actor: str) -> bool:
        """Give a user a role in a workspace."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        return self.authz.add_rule(PolicyRule("g", (f"user:{user_id}", f"role:{role}", workspace)), actor=actor)

    def revoke_role(self, *, user_id: str, role: str, workspace: str, actor: str) -> bool:
        """Take a role away."""
        return self.authz.remove_rule(PolicyRule("g", (f"user:{user_id}", f"role:{role}", workspace)), actor=actor)

    def roles_of(self, subject: str, workspace: str) -> tuple[str, ...]:
        """Roles a subject holds in a workspace now (from the policy store)."""
        return tuple(r for r in self.authz.roles_for(subject, workspace) if r in ROLES)

    def set_user_disabled(self, *, username: str, disabled: bool) -> str:
        """Disable (every token of the user stops working) or enable a user; returns its id."""
        user_id = self.repo.set_user_disabled(username=username, disabled=disabled)
        if user_id is None:
            raise AuthError("unknown_user", f"no user named {username!r}")
        self._user_cache.pop(user_id, None)
        return user_id

    def _user_status(self, user_id: str, *, fresh: bool = False) -> UserStatus | None:
        """The token's user, looked up at most every `user_cache_seconds` per process."""
        now = time.monotonic()
        hit = self._user_cache.get(user_id)
        if not fresh and hit is not None and now - hit[0] < self.settings.user_cache_seconds:
            return hit[1]
        status = self.repo.user_status(user_id)
        if len(self._user_cache) > 10_000:
            self._user_cache = {}
        self._user_cache[user_id] = (now, status)
        return status

    # --- CLI operators ---------------------------------------------------------------------
    def operator(self, *, name: str, workspace: str) -> Principal:
        """The principal of a person at the server's command line: roles come from the policy
        store (`veil operators grant`), never from the command line itself."""
        subject = f"operator:{name}"
        roles = self.roles_of(subject, workspace)
        if not roles:
            raise AuthError("no_role", f"operator {name!r} has no role in workspace {workspace!r}; an admin "
                                       f"grants one with `veil operators grant {name} --role <role>`")
        return Principal(id=subject, kind=PrincipalKind.OPERATOR, workspace=workspace, roles=roles, name=name)

    def grant_operator(self, *, name: str, role: str, workspace: str, actor: str) -> bool:
        """Give a CLI operator a role in a workspace ('*' = every workspace)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        return self.authz.add_rule(PolicyRule("g", (f"operator:{name}", f"role:{role}", workspace)), actor=actor)

    def revoke_operator(self, *, name: str, role: str, workspace: str, actor: str) -> bool:
        """Take a CLI operator's role away."""
        return self.authz.remove_rule(PolicyRule("g", (f"operator:{name}", f"role:{role}", workspace)),
                                      actor=actor)

    def operators(self) -> list[tuple[str, str, str]]:
        """(operator name, role, workspace) of every CLI operator grant."""
        return sorted((r.values[0].removeprefix("operator:"), r.values[1].removeprefix("role:"), r.values[2])
                      for r in self.authz.repo.rules() if r.ptype == "g" and r.values[0].startswith("operator:"))

    def bootstrap_operator(self, *, name: str) -> bool:
        """On a fresh install the OS user who installs Veil becomes its first admin operator (as the
        OS user that initialises a database cluster owns it); a no-op once any operator exists."""
        if self.operators():
            return False
        return self.grant_operator(name=name, role="admin", workspace="*", actor=f"operator:{name}")

    def login(self, *, username: str, password: str, workspace: str) -> tuple[str, Principal]:
        """Verify a password and issue a short-lived JWT for one workspace."""
        user = self.repo.user_by_name(username)
        if user is None or user.disabled:
            self.hasher.hash(password)  # same cost either way: no user enumeration by timing
            raise AuthError("invalid_credentials", "wrong user name or password")
        try:
            self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError) as exc:
            raise AuthError("invalid_credentials", "wrong user name or password") from exc
        if self.hasher.check_needs_rehash(user.password_hash):
            self.repo.set_password_hash(user_id=user.id, password_hash=self.hasher.hash(password))
        roles = self.roles_of(f"user:{user.id}", workspace)
        if not roles:
            raise AuthError("no_role", f"user has no role in workspace {workspace!r}")
        status = self.repo.user_status(user.id)
        now = datetime.now(UTC)
        # No roles in the token: they are looked up on every request (see authenticate_token).
        claims = {"sub": f"user:{user.id}", "name": user.username, "ws": workspace,
                  "ep": status.token_epoch if status else 0,
                  "iat": now, "exp": now + timedelta(minutes=self.settings.token_ttl_minutes), "iss": "veil"}
        token = jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")
        return token, Principal(id=f"user:{user.id}", kind=PrincipalKind.USER, workspace=workspace, roles=roles,
                                name=user.username)

    def authenticate_token(self, token: str) -> Principal:
        """A Veil staff JWT, or (when configured) an external OIDC provider's JWT."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("invalid_token", "malformed token") from exc
        if header.get("alg") == "HS256":
            try:
                claims = jwt.decode(token, self.settings.jwt_secret, algorithms=["HS256"], issuer="veil",
                                    options={"require": ["exp", "iat", "sub", "iss"]})
            except jwt.ExpiredSignatureError as exc:
                raise AuthError("token_expired", "the token has expired; log in again") from exc
            except jwt.PyJWTError as exc:
                raise AuthError("invalid_token", "invalid token") from exc
            return self._staff_principal(claims)
        return self._oidc(token)

    def _staff_principal(self, claims: dict[str, object]) -> Principal:
        """The principal of a verified staff token: its user must exist and be enabled now, the
        token must postdate the user's last disable, and the roles are the policy's, not the token's."""
        sub, workspace, epoch = claims.get("sub"), claims.get("ws"), claims.get("ep", 0)
        if (not isinstance(sub, str) or not sub.startswith("user:") or not isinstance(workspace, str)
                or not isinstance(epoch, int)):
            raise AuthError("invalid_token", "invalid token")
        user = self._user_status(sub.removeprefix("user:"))
        if user is None or user.disabled or epoch != user.token_epoch:
            # The cache only ever lets a token through sooner than the store would refuse it;
            # a refusal is checked against the store (an enable elsewhere applies at once).
            user = self._user_status(sub.removeprefix("user:"), fresh=True)
        if user is None or user.disabled or epoch != user.token_epoch:
            raise AuthError("invalid_token", "the token's user is unknown or disabled; log in again")
        roles = self.roles_of(sub, workspace)
        if not roles:
            raise AuthError("no_role", f"the user has no role in workspace {workspace!r}")
        return Principal(id=sub, kind=PrincipalKind.USER, workspace=workspace, roles=roles, name=user.username)

    def _oidc(self, token: str) -> Principal:
        s = self.settings
        if s.oidc_jwks_file is None:
            raise AuthError("invalid_token", "unsupported token")
        try:
            jwks = jwt.PyJWKSet.from_dict(json.loads(Path(s.oidc_jwks_file).read_text(encoding="utf-8")))
            kid = jwt.get_unverified_header(token).get("kid")
            key = next(k for k in jwks.keys if kid is None or k.key_id == kid)
            claims = jwt.decode(token, key.key, algorithms=["RS256", "ES256"], audience=s.oidc_audience,
                                issuer=s.oidc_issuer, options={"require": ["exp", "sub"]})
        except (StopIteration, jwt.PyJWTError, OSError, ValueError) as exc:
            raise AuthError("invalid_token", "OIDC token could not be verified") from exc
        roles = tuple(r for r in claims.get(s.oidc_roles_claim, []) if r in ROLES)
        workspace = claims.get(s.oidc_workspace_claim)
        if not roles or not isinstance(workspace, str):
            raise AuthError("no_role", "the OIDC token carries no Veil role or workspace")
        return Principal(id=f"oidc:{claims['sub']}", kind=PrincipalKind.USER, workspace=workspace, roles=roles,
                         name=claims.get("preferred_username", ""))
