"""Nothing that touches personal data slips past the guard: every GraphQL field and every CLI
command is walked, and the transports are checked for back doors (driver, decrypting reader)."""

from __future__ import annotations

import ast
import inspect
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from typer.main import get_command

from api.cli import app as cli_app
from api.graphql.schema import build_schema
from graph.policies import PolicyRule
from tests.api.test_graphql import gql, key
from tests.conftest import cypher

ROOT = Path(__file__).resolve().parents[1]
# Fields that read or change no customer data and must work before a role is known.
PUBLIC_FIELDS = {"login"}
# Fields about the caller itself (its own principal and abilities): authenticated, no customer data.
SELF_FIELDS = {"viewer"}
# CLI commands that touch no customer data (server process, schema export, local key generation).
CLI_WITHOUT_DATA = {"serve", "migrate", "graphql-schema", "keys new-kek", "activation sinks", "secrets init", "secrets status"}
# Optional arguments some fields need to get past argument checks to the guard.
EXTRA_ARGS = {"createDsr": {"profileId": ("ID", "x")}}


def _value(t: Any) -> Any:
    if isinstance(t, GraphQLNonNull):
        return _value(t.of_type)
    if isinstance(t, GraphQLList):
        return [_value(t.of_type)]
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        return {name: _value(f.type) for name, f in t.fields.items() if isinstance(f.type, GraphQLNonNull)}
    assert isinstance(t, GraphQLScalarType)
    return {"Int": 1, "Float": 1.0, "Boolean": False, "DateTime": datetime.now(UTC).isoformat(),
            "JSON": {"type": "trait", "name": "member_tier", "op": "eq", "value": "x"}}.get(t.name, "x")


def _selection(t: Any, depth: int = 0) -> str:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    fields = getattr(t, "fields", None)
    if not fields:
        return ""
    scalars = [n for n, f in fields.items() if not getattr(_named(f.type), "fields", None) and not f.args]
    if scalars:
        return "{ " + " ".join(scalars[:3]) + " }"
    name, f = next(iter(fields.items()))
    return "{ " + name + " " + _selection(f.type, depth + 1) + " }"


def _named(t: Any) -> Any:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _operations() -> list[tuple[str, str, str, dict[str, Any], dict[str, str]]]:
    schema = build_schema(introspection=False)._schema
    ops = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            if name in PUBLIC_FIELDS:
                continue
            params = {a: arg.type for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
            extra = EXTRA_ARGS.get(name, {})
            decl = ", ".join([f"${a}: {t}" for a, t in params.items()] + [f"${a}: {t}" for a, (t, _) in extra.items()])
            call = ", ".join(f"{a}: ${a}" for a in [*params, *extra])
            doc = (f"{kind}{'(' + decl + ')' if decl else ''} {{ {name}{'(' + call + ')' if call else ''} "
                   f"{_selection(field.type)} }}")
            values = {a: _value(t) for a, t in params.items()} | {a: v for a, (_, v) in extra.items()}
            ops.append((kind, name, doc, values, {}))
    return ops


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def locked_workspace(container) -> str:
    """A workspace whose `app` role is denied everything."""
    ws = f"t-lock-{uuid.uuid4().hex[:8]}"
    container.guard.authz.add_rule(PolicyRule("p", ("role:app", ws, "*", "*", "deny")), actor="test")
    return ws


def test_the_walk_covers_the_schema():
    names = {name for _, name, *_ in OPERATIONS}
    assert {"profile", "profiles", "interactions", "auditRecords", "createDsr", "eraseProfile",
            "segmentPreview"} <= names and len(names) >= 30


@pytest.mark.parametrize(("kind", "name", "doc", "variables", "_"), OPERATIONS, ids=[o[1] for o in OPERATIONS])
def test_every_field_is_behind_the_guard(client, container, locked_workspace, kind, name, doc, variables, _):
    # Unauthenticated: refused before anything else.
    r = gql(client, doc, variables=variables)
    codes = [e.get("extensions", {}).get("code") for e in r.json().get("errors", [])]
    # Refused either way: no credentials, or (the walk is fast) the per-client anonymous rate limit.
    assert codes and set(codes) <= {"UNAUTHENTICATED", "PURPOSE_REQUIRED", "RATE_LIMITED"}, (name, r.text)
    assert not (r.json().get("data") or {}).get(name), (name, r.text)
    if name in SELF_FIELDS:
        return
    # A principal whose role is denied everything: FORBIDDEN, and the denial is in the trail.
    token = key(container, locked_workspace, "app")
    before = cypher(container, "MATCH (a:AuditRecord {workspace: $w, decision: 'deny'}) RETURN count(a) AS n",
                    w=locked_workspace)[0]["n"]
    r = gql(client, doc, token=token, purpose="support", variables=variables)
    body = r.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    assert codes and set(codes) == {"FORBIDDEN"}, (name, r.text)
    after = cypher(container, "MATCH (a:AuditRecord {workspace: $w, decision: 'deny'}) RETURN count(a) AS n",
                   w=locked_workspace)[0]["n"]
    assert after > before, f"{name}: the denial was not audited"


def _cli_commands() -> list[tuple[str, Any]]:
    root = get_command(cli_app)
    out = []

    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for n, sub in subs.items():
                walk(sub, f"{prefix} {n}".strip())
        else:
            out.append((prefix, cmd.callback))

    walk(root, "")
    return out


def test_every_cli_command_acts_as_an_operator_through_the_services():
    commands = _cli_commands()
    assert len(commands) >= 30
    for name, callback in commands:
        if name in CLI_WITHOUT_DATA:
            continue
        assert _acts_as_operator(callback), f"`veil {name}` bypasses the guard"


def _acts_as_operator(fn: Any) -> bool:
    """The command opens an operator session itself or through a helper of its module."""
    fn = inspect.unwrap(fn)  # typer wraps the callbacks
    source = inspect.getsource(fn)
    if "operator_session(" in source:
        return True
    called = {n.func.id for n in ast.walk(ast.parse(inspect.cleandoc("\n" + source)))
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    helpers = [fn.__globals__.get(name) for name in called]
    return any(inspect.isfunction(h) and h.__module__ == fn.__module__ and "operator_session(" in inspect.getsource(h)
               for h in helpers)


def _api_modules() -> list[Path]:
    return [p for p in (ROOT / "api").rglob("*.py") if p.name != "container.py"]


def test_no_transport_reaches_the_driver_or_the_decrypting_reader():
    for path in _api_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for m in mods:
                    assert m != "neo4j" and not m.startswith("neo4j."), f"{path}: imports the driver"
                    assert m != "privacy.reader", f"{path}: imports the decrypting reader"
            if isinstance(node, ast.Attribute) and node.attr in ("driver", "profiles", "vault"):
                base = node.value
                owner = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                assert owner not in ("c", "container", "veil"), (
                    f"{path}:{node.lineno}: a transport reaches container.{node.attr}")
