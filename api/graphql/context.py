"""Per-request GraphQL context: who is calling and for which purpose."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request, Response
from strawberry.dataloader import DataLoader

from access.auth import API_KEY_PREFIX, AuthError
from access.pipeline import MaskedProfile, ReadContext
from access.principal import Principal
from api.container import Container
from api.graphql.errors import ClientError
from audit.events import Actor, ActorKind, actor_var
from collect.normalize import normalize_email, normalize_phone
from collect.sources import KEY_PREFIX as WRITE_KEY_PREFIX
from consent.model import Channel, Purpose

PURPOSE_HEADER = "x-veil-purpose"


class VeilContext:
    """Lazily authenticates; every resolver goes through `read_context` or a service method."""

    def __init__(self, container: Container, request: Request) -> None:
        self.c = container
        self.request = request
        self._principal: Principal | None = None
        self._contexts: dict[tuple[Purpose, Channel], ReadContext] = {}
        self._loaders: dict[tuple[Any, ...], DataLoader[MaskedProfile, Any]] = {}
        self.pipeline = container.pipeline
        self.token_ttl_seconds = container.auth.settings.token_ttl_minutes * 60

    @property
    def principal(self) -> Principal:
        """The authenticated caller (UNAUTHENTICATED error otherwise)."""
        if self._principal is None:
            header = self.request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("missing_credentials", "send an API key or token as 'Authorization: Bearer ...'")
            token = token.strip()
            if token.startswith(WRITE_KEY_PREFIX):
                raise AuthError("write_key_not_allowed", "write keys can only ingest events")
            if token.startswith(API_KEY_PREFIX):
                self._principal = self.c.auth.authenticate_api_key(token)
            else:
                self._principal = self.c.auth.authenticate_token(token)
            actor_var.set(Actor(id=self._principal.id, kind=ActorKind(self._principal.kind.value),
                                role=",".join(self._principal.roles) or None))
        return self._principal

    def read_context(self, purpose: Purpose | None, channel: Channel | None) -> ReadContext:
        """Principal + declared purpose (argument, else the X-Veil-Purpose header). No purpose, no data."""
        principal = self.principal
        if purpose is None:
            raw = self.request.headers.get(PURPOSE_HEADER)
            if not raw:
                raise ClientError("PURPOSE_REQUIRED", "declare a purpose (argument or X-Veil-Purpose header)")
            try:
                purpose = Purpose(raw.strip())
            except ValueError as exc:
                raise ClientError("BAD_REQUEST", f"unknown purpose; one of {', '.join(p.value for p in Purpose)}") from exc
        key = (purpose, channel or Channel.any)
        if key not in self._contexts:  # field permissions once per request, not per resolver
            self._contexts[key] = self.pipeline.context(principal, *key)
        return self._contexts[key]

    def nested_loader(self, kind: str, purpose: str, args: tuple[Any, ...] = ()) -> DataLoader[MaskedProfile, Any]:
        """Per-request DataLoader for a nested field of profiles (interactions, consents, merges):
        the profiles of one page resolve it with one query and one audit transaction."""
        key = (kind, purpose, args)
        loader = self._loaders.get(key)
        if loader is None:
            ctx = self.read_context(Purpose(purpose), None)
            pipeline = self.pipeline

            def fetch(profiles: list[MaskedProfile]) -> dict[str, Any]:
                if kind == "interactions":
                    first, event_type, since, until = args
                    return pipeline.interactions_of(ctx, profiles, event_type=event_type, since=since,
                                                    until=until, limit=first)
                if kind == "consents":
                    return pipeline.consents_of(ctx, profiles)
                return pipeline.merges_of(ctx, profiles)

            async def load(profiles: list[MaskedProfile]) -> list[Any]:
                found = await asyncio.to_thread(fetch, profiles)
                return [found[m.id] for m in profiles]

            loader = DataLoader(load_fn=load, cache_key_fn=lambda m: m.id)
            self._loaders[key] = loader
        return loader

    def normalize_identifier(self, kind: str, value: str) -> tuple[str, str]:
        """Identifiers are stored normalised; look them up the same way."""
        if kind == "email":
            norm = normalize_email(value)
        elif kind == "phone":
            norm = normalize_phone(value, default_region=self.c.collect.default_region)
        else:
            norm = value.strip() or None
        if norm is None:
            raise ClientError("BAD_REQUEST", f"not a valid {kind}")
        return kind, norm

    def login(self, *, username: str, password: str, workspace: str) -> tuple[str, Principal]:
        """Staff login (audited, failures too)."""
        return self.c.admin.login(username=username, password=password, workspace=workspace)

    def update_traits(self, ctx: ReadContext, profile_id: str, traits: Any) -> bool:
        return self.c.admin.update_traits(ctx, profile_id, traits)

    def erase_profile(self, ctx: ReadContext, profile_id: str, reason: str) -> Any:
        try:
            return self.c.admin.erase_profile(ctx, profile_id, reason)
        except ValueError as exc:
            raise ClientError("BAD_REQUEST", str(exc)) from exc

    def record_consent(self, ctx: ReadContext, profile_id: str, purpose: Purpose, channel: Channel, status: str,
                       notice_version: str | None, notice_text: str | None) -> Any:
        return self.c.admin.record_consent(ctx, profile_id, purpose, channel, status, notice_version, notice_text)

    def create_api_key(self, role: str, name: str) -> Any:
        return self.c.admin.create_api_key(self.principal, role, name)

    def revoke_api_key(self, key_id: str) -> bool:
        return self.c.admin.revoke_api_key(self.principal, key_id)

    def create_user(self, username: str, password: str) -> str:
        try:
            return self.c.admin.create_user(self.principal, username, password)
        except ValueError as exc:
            raise ClientError("BAD_REQUEST", str(exc)) from exc

    def assign_role(self, user_id: str, role: str, grant: bool) -> bool:
        return self.c.admin.assign_role(self.principal, user_id, role, grant)

    def set_policy_rule(self, role: str, resource: str, action: str, effect: str, present: bool) -> bool:
        try:
            return self.c.admin.set_policy_rule(self.principal, role, resource, action, effect, present)
        except ValueError as exc:
            raise ClientError("BAD_REQUEST", str(exc)) from exc


async def context_getter(request: Request, response: Response) -> dict[str, Any]:
    """Strawberry context: the Veil context plus request/response."""
    return {"veil": VeilContext(request.app.state.container, request), "request": request, "response": response}
