"""The caller (defined in core.principal so every layer can name it); re-exported here."""

from core.principal import ROLES, Principal, PrincipalKind, current_principal

__all__ = ["ROLES", "Principal", "PrincipalKind", "current_principal"]
