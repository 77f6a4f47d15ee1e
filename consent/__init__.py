"""Consent domain: records, signals from events, per-jurisdiction policy and the gate."""
