"""No secret of the product has a value in the source tree (code, scripts, docs, compose files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from access.auth import AuthSettings
from graph.settings import Neo4jSettings
from privacy.settings import CryptoSettings, PrivacySettings

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
             ".hypothesis",
             "build", "dist"}
# The constants main shipped (split, so this file does not match itself).
OLD_CONSTANTS = [
    "veil-dev-" + "jwt-secret-" + "change" + "-me-0123456789",
    "veil-dev-" + "hmac-key-" + "change" + "-me-0123456789abcdef",
    "veil-dev-" + "password",
    "dmVpbC1kZXYta2VrLWNoYW5n" + "ZS1tZS0wMTIzNDU2Nzg=",
    "dmVpbC1kZXYtYmxpbmQtaW5kZXgta2V5LWNoYW5n" + "ZSE=",
]
PATTERNS = [
    re.compile(r"\bDEV_[A-Z_]*(SECRET|KEY|KEK|PASSWORD)\b"),
    re.compile(r"change[-_]me", re.IGNORECASE),
]


def source_files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts) or not path.is_file():
            continue
        if path.stat().st_size > 2_000_000 or path.suffix in {".db", ".png", ".jpg", ".gz", ".jar"}:
            continue
        out.append(path)
    return out


def test_the_scan_sees_the_tree():
    names = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert {"access/auth.py", "privacy/settings.py", "graph/settings.py", "deploy/neo4j.sh", "Makefile",
            "README.md", "docker-compose.yml", "core/secrets.py"} <= names


def test_no_old_constant_or_secret_looking_default_is_left_in_the_tree():
    found = []
    for path in source_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for needle in OLD_CONSTANTS:
            if needle in text:
                found.append(f"{path.relative_to(ROOT)}: {needle[:12]}...")
        for pattern in PATTERNS:
            for m in pattern.finditer(text):
                found.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert found == []


@pytest.mark.parametrize("cls", [AuthSettings, PrivacySettings, CryptoSettings, Neo4jSettings])
def test_secret_settings_have_no_default_value(cls):
    secretish = re.compile(r"(secret|password|hmac_key|kek|blind_index_key)$")
    fields = {n: f for n, f in cls.model_fields.items() if secretish.search(n)}
    assert fields, cls
    for name, field in fields.items():
        assert field.default in ("", None), f"{cls.__name__}.{name} has a default value"
        assert field.repr is False, f"{cls.__name__}.{name} would show in repr()"
