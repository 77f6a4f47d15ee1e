"""Tamper-evident audit trail: typed events (events), the hash chain (chain), the service (service).

The store lives in graph/audit.py. Set `audit.events.actor_var` / `request_id_var` per request
(or use `audit.events.bind`) and record through `AuditService.record`, which fails closed.
"""
