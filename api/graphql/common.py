"""Helpers shared by the resolver modules."""

from __future__ import annotations

import asyncio
from typing import Any

from strawberry.types import Info

from access.pipeline import ReadContext
from consent.model import Channel, Purpose


def ctx_of(info: Info, purpose: Purpose | None, channel: Channel | None = None) -> ReadContext:
    """The request's read context for a declared purpose."""
    return info.context["veil"].read_context(purpose, channel)


async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run blocking service code off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
