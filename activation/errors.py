"""Activation's domain errors (stable codes, HTTP statuses)."""

from __future__ import annotations

from core.errors import VeilError


class JourneyError(VeilError):
    """A journey definition or request that cannot be used."""

    code = "invalid_journey"
    status = 400


class JourneyNotFound(VeilError):
    """No such journey in the caller's workspace."""

    code = "journey_not_found"
    status = 404


class JourneyStateError(VeilError):
    """The journey is not in a state that allows this (e.g. publishing a version twice)."""

    code = "journey_state"
    status = 409


class ChannelNotConfigured(VeilError):
    """A step names a channel that has no configured provider."""

    code = "channel_not_configured"
    status = 400


class UnsubscribeError(VeilError):
    """A one-click unsubscribe link that is not valid."""

    code = "invalid_unsubscribe"
    status = 400
