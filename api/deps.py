"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from api.container import Container
from api.errors import ApiError
from graph.sources import SourceRecord


def get_container(request: Request) -> Container:
    """The app's wiring."""
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def write_key_from_header(header: str | None) -> str | None:
    """The write key from `Basic base64(key:)` (as Segment SDKs send it) or `Bearer key`."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def authenticate_source(container: Container, key: str | None) -> SourceRecord:
    """The source owning a write key, or a 401 ApiError."""
    if not key:
        raise ApiError(401, "missing_write_key",
                       "send the source's write key as the HTTP Basic user name or a Bearer token",
                       headers={"WWW-Authenticate": 'Basic realm="veil"'})
    source = container.sources.authenticate(key)
    if source is None:
        raise ApiError(401, "invalid_write_key", "unknown or disabled write key",
                       headers={"WWW-Authenticate": 'Basic realm="veil"'})
    return source
