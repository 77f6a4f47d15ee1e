"""Pieces every layer may import: the base domain error."""
