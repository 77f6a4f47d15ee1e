"""No import cycles between modules or between packages (module-level imports), so lower layers
never reach upper ones and a newcomer can read the tree bottom-up (core -> ... -> api)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "consent", "audit", "graph", "privacy", "collect", "access", "segments", "analytics",
            "activation", "resolution", "console", "api")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = f
    return mods


def _edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for node in ast.parse(f.read_text(encoding="utf-8")).body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges[m] |= {t for t in targets if t in mods and t != m}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_in_a_circle():
    assert _cycles(_edges(_modules())) == []


def test_no_package_imports_in_a_circle():
    pkg_edges: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for m, targets in _edges(_modules()).items():
        for t in targets:
            a, b = m.split(".")[0], t.split(".")[0]
            if a != b:
                pkg_edges[a].add(b)
    assert _cycles(pkg_edges) == []
    assert "access" not in pkg_edges["privacy"] and "api" not in set().union(*(pkg_edges[p] for p in PACKAGES
                                                                                if p != "api"))
