"""Authentication: app API keys, staff users (argon2 + short-lived JWT), optional OIDC JWTs."""

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
from graph.policies import PolicyRule
from graph.principals import ApiKeyRecord, PrincipalRepository

DEV_JWT_SECRET = "veil-dev-jwt-secret-change-me-0123456789"
API_KEY_PREFIX = "vak_"
KEY_CACHE_SECONDS = 5.0


class AuthSettings(BaseSettings):
    """Token settings (environment prefix VEIL_AUTH_)."""

    model_config = SettingsConfigDict(env_prefix="VEIL_AUTH_", extra="ignore")

    jwt_secret: str = Field(DEV_JWT_SECRET, description="HS256 secret for staff tokens (refused in prod if default)")
    token_ttl_minutes: int = Field(15, description="Lifetime of a staff token")
    oidc_jwks_file: Path | None = Field(None, description="JWKS file of an external OIDC provider (offline)")
    oidc_issuer: str | None = Field(None, description="Expected issuer of OIDC tokens")
    oidc_audience: str | None = Field(None, description="Expected audience of OIDC tokens")
    oidc_roles_claim: str = Field("veil_roles", description="Claim holding Veil role names")
    oidc_workspace_claim: str = Field("veil_workspace", description="Claim holding the workspace")


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
        self.settings = settings
        self.hasher = PasswordHasher()
        self._key_cache: dict[str, tuple[float, ApiKeyRecord | None]] = {}

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
        """Roles a subject holds in a workspace."""
        roles = []
        for rule in self.authz.repo.rules():
            if rule.ptype == "g" and rule.values[0] == subject and rule.values[2] in (workspace, "*"):
                roles.append(rule.values[1].removeprefix("role:"))
        return tuple(sorted(set(roles)))

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
        now = datetime.now(UTC)
        claims = {"sub": f"user:{user.id}", "name": user.username, "ws": workspace, "roles": list(roles),
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
                                    options={"require": ["exp", "sub", "iss"]})
            except jwt.ExpiredSignatureError as exc:
                raise AuthError("token_expired", "the token has expired; log in again") from exc
            except jwt.PyJWTError as exc:
                raise AuthError("invalid_token", "invalid token") from exc
            roles = tuple(r for r in claims.get("roles", []) if r in ROLES)
            return Principal(id=claims["sub"], kind=PrincipalKind.USER, workspace=claims["ws"], roles=roles,
                             name=claims.get("name", ""))
        return self._oidc(token)

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
