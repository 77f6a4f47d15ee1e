"""Activation: channels (a registry of named senders), journeys, the send ledger and the worker."""
