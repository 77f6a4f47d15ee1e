"""Units of the GraphQL limits, the rate limiter, the error mapper and the value-free log format."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from graphql import parse

from api.graphql.errors import STATUS_CODES, to_graphql
from api.graphql.http import RateLimited, RateLimiter
from api.graphql.limits import LimitExceeded, Limits, check
from api.graphql.schema import build_schema
from api.logs import configure_logging
from core import errors as core_errors
from core.errors import VeilError

SCHEMA = build_schema(introspection=False)._schema
LIMITS = Limits(max_depth=8, max_aliases=15, max_cost=10_000)


def score(doc: str, variables: dict | None = None, operation: str | None = None, limits: Limits = LIMITS):
    return check(SCHEMA, parse(doc), variables=variables, operation_name=operation, limits=limits)


def refused(doc: str, variables: dict | None = None, limits: Limits = LIMITS) -> dict:
    with pytest.raises(LimitExceeded) as info:
        score(doc, variables, limits=limits)
    return info.value.error.extensions or {}


def test_cost_counts_fields_times_page_sizes_with_defaults_and_variables():
    assert score('{ profile(id: "x") { id } }')[""].cost == 2
    # profiles: 1 + 20 (default first) x (edges 1 + (node 1 + (id 1 + interactions 1 + 20 x 2)))
    q = "{ profiles { edges { node { id interactions { event ts } } } } }"
    assert score(q)[""].cost == 1 + 20 * (1 + (1 + (1 + 1 + 20 * 2)))
    q = "query Q($n: Int = 3) { profiles(first: $n) { edges { cursor } } }"
    assert score(q)["Q"].cost == 1 + 3 * 2
    assert score(q, {"n": 50})["Q"].cost == 1 + 50 * 2
    assert score(q, {"n": "fifty"})["Q"].cost == 1 + 20 * 2  # not an int: the field default; coercion refuses it
    assert score('{ segmentPreview(definition: {}, sampleSize: 40) { count sample { id } } }')[""].cost == 1 + 40 * 3


def test_fragments_are_scored_once_but_count_every_spread():
    doc = ['query { profile(id: "x") { ...F20 } }', "fragment F0 on Profile { id }"]
    doc += [f"fragment F{i} on Profile {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 21)]
    limits = Limits(max_depth=8, max_aliases=15, max_cost=10 ** 9)
    assert score("\n".join(doc), limits=limits)[""].cost == 1 + 2 ** 20
    ext = refused("\n".join(doc))
    assert ext["code"] == "QUERY_TOO_COMPLEX" and ext["cost"] == 1 + 2 ** 20 and ext["limit"] == 10_000


def test_depth_and_aliases_include_what_fragments_bring():
    frag = 'query { a: profile(id: "x") { ...T } } fragment T on Profile { b: traits { name } c: id }'
    assert score(frag)[""].aliases == 3 and score(frag)[""].depth == 2
    inline = '{ profile(id: "x") { ... on Profile { traits { name } } } }'
    assert score(inline)[""].depth == 2
    assert refused("{ " + " ".join(f'a{i}: profile(id: "x") {{ id }}' for i in range(16)) + " }")["aliases"] == 16


def test_deep_nesting_and_long_fragment_chains_stop_without_recursion_errors():
    nested = "{ profile(id: \"x\") " + "{ traits " * 150 + "{ name }" + " }" * 150 + " }"
    assert refused(nested, limits=Limits(max_depth=8, max_aliases=15, max_cost=10 ** 12))["code"] == "QUERY_TOO_DEEP"
    chain = ['query { profile(id: "x") { ...F0 } }']
    chain += [f"fragment F{i} on Profile {{ id ...F{i + 1} }}" for i in range(3000)] + ["fragment F3000 on Profile { id }"]
    assert score("\n".join(chain), limits=Limits(max_cost=10 ** 6))[""].cost == 1 + 3001


def test_cycles_and_unnamed_operations_are_refused():
    ext = refused('query { profile(id: "x") { ...A } } fragment A on Profile { id ...B } '
                  "fragment B on Profile { ...C } fragment C on Profile { ...A }")
    assert ext["code"] == "BAD_REQUEST" and ext["reason"] == "fragment_cycle"
    two = "query A { __typename } query B { __typename }"
    assert refused(two)["reason"] == "operation_name_required"
    assert set(score(two, operation="B")) == {"A", "B"}


def test_unused_fragments_are_bounded_too():
    doc = ['query { __typename }', "fragment F0 on Profile { id }"]
    doc += [f"fragment F{i} on Profile {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 25)]
    assert refused("\n".join(doc))["code"] == "QUERY_TOO_COMPLEX"


def test_token_bucket_refills_at_its_rate_and_forgets_old_keys():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, anonymous_rate=1.0, anonymous_burst=1, max_keys=3, clock=lambda: now[0])
    limiter.charge("a", anonymous=False)
    limiter.charge("a", anonymous=False)
    with pytest.raises(RateLimited) as info:
        limiter.charge("a", anonymous=False)
    assert info.value.status == 429 and info.value.headers["Retry-After"] == "1"
    now[0] = 0.5  # one token back at 2/s
    limiter.charge("a", anonymous=False)
    limiter.charge("ip", anonymous=True)
    with pytest.raises(RateLimited):
        limiter.charge("ip", anonymous=True)
    for k in ("b", "c", "d"):
        limiter.charge(k, anonymous=False)
    assert len(limiter._buckets) == 3
    RateLimiter(rate=0, burst=1, anonymous_rate=0, anonymous_burst=1).charge("x", anonymous=True)  # off


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


def test_every_veil_error_maps_to_a_coded_graphql_error():
    import api.app  # noqa: F401  (loads every module that defines domain errors)

    expected = {core_errors.BadRequest: "BAD_REQUEST", core_errors.Unauthenticated: "UNAUTHENTICATED",
                core_errors.PermissionDenied: "FORBIDDEN", core_errors.NotFoundError: "NOT_FOUND",
                core_errors.Conflict: "CONFLICT", core_errors.TooManyRequests: "RATE_LIMITED",
                core_errors.Unavailable: "UNAVAILABLE"}
    for cls in _all_subclasses(VeilError):
        exc = cls.__new__(cls)
        VeilError.__init__(exc, "something was wrong", field="where")
        err = to_graphql(exc)
        assert err is not None, cls
        ext = err.extensions or {}
        assert ext["code"].isupper() and ext["code"] != "INTERNAL_SERVER_ERROR" and err.message, cls
        if cls in expected:
            assert ext["code"] == expected[cls] and ext["field"] == "where"
    assert set(expected) <= set(_all_subclasses(VeilError))
    assert to_graphql(RuntimeError("x")) is None
    assert STATUS_CODES[429] == "RATE_LIMITED"


def test_exceptions_are_logged_as_frames_without_their_message(capsys):
    configure_logging("INFO")
    try:
        raise ValueError("canary-in-an-exception")
    except ValueError:
        structlog.get_logger("t").exception("failed")
        logging.getLogger("t.stdlib").exception("failed too")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and all(line["exception"][0] == "builtins.ValueError" for line in lines)
    assert "canary-in-an-exception" not in json.dumps(lines)
