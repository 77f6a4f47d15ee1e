"""Every domain exception carries a stable code and an HTTP status (one base class, one mapper
per transport), so a new error cannot turn into an `internal error` or a 500 by accident."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from core.errors import VeilError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("access", "analytics", "api", "audit", "collect", "consent", "core", "graph", "privacy", "segments")
# Private control-flow signals that never leave their module.
INTERNAL = {"privacy.ingest_scan._Rejected"}


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for pkg in PACKAGES:
        for mod in pkgutil.walk_packages([str(ROOT / pkg)], prefix=f"{pkg}."):
            if mod.name.endswith("__main__"):
                continue
            module = importlib.import_module(mod.name)
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [cls for name, cls in sorted(found.items()) if name not in INTERNAL]


def test_every_domain_exception_has_a_code_and_a_status():
    classes = _exception_classes()
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, VeilError), f"{cls.__module__}.{cls.__qualname__} is not a VeilError"
        assert isinstance(cls.status, int) and 400 <= cls.status <= 599, cls
        assert isinstance(cls.code, str) and cls.code, cls
