"""GraphQL under hostile input, through HTTP: fragment explosions, body size, content types,
cost, rate limits, coded client mistakes, masked server faults, and logs without values."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from unittest import mock

import httpx
import pytest
from fastapi.testclient import TestClient

from api.settings import AppSettings
from core.errors import Conflict, TooManyRequests
from tests.api.test_graphql import PROFILE_Q, audit_rows, codes, gql, key

README_Q = '{ profileByIdentifier(type: "email", value: "amy@example.com") { id traits { name value masking } withheld } }'
BENCH_Q = """query Read($id: ID!) {
  profile(id: $id) { id traits { name value masking } identifiers { name value masking }
                     interactions(first: 20) { event ts } } }"""
PAGE_Q = """query($n: Int!) { profiles(first: $n) { edges { cursor node { id traits { name value masking category }
  identifiers { name value } interactions(first: 20) { event ts type } consents { status purpose } } } } }"""


def explosion(levels: int, *, on: str = "Profile") -> str:
    """Each fragment spreads the previous one twice: ~1 KB at level 30, 2^30 fields expanded."""
    parts = [f"fragment F0 on {on} {{ id traits {{ name value }} }}"]
    parts += [f"fragment F{i} on {on} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return f'query {{ profile(id: "x") {{ ...F{levels} }} }}\n' + "\n".join(parts)


def ext(resp: httpx.Response | object, i: int = 0) -> dict:
    return resp.json()["errors"][i].get("extensions", {})  # type: ignore[attr-defined]


@pytest.fixture()
def person(container, workspace) -> str:
    """A customer with a unique phone and e-mail (the canaries of the log test use them)."""
    r = container.ingest.ingest([
        {"type": "identify", "userId": "hx-1", "messageId": "hx-m1", "timestamp": "2026-10-01T00:00:00Z",
         "traits": {"email": "hx-mei@example.com", "phone": "0912-118-247", "name": "林美玲"}},
        {"type": "track", "userId": "hx-1", "event": "Order Completed", "messageId": "hx-m2",
         "timestamp": "2026-10-02T00:00:00Z", "properties": {"order_id": "o1", "revenue": 100}},
    ], workspace=workspace, source="test")
    return r.profiles[0]


@pytest.fixture()
def strict_client(container) -> Iterator[TestClient]:
    """An app with its own small limits (its own rate limiter, so other tests are untouched)."""
    from api.app import create_app

    settings = AppSettings(env="test", graphql_max_body_bytes=2048, graphql_rate_per_second=0.5,
                           graphql_rate_burst=3, graphql_anonymous_rate_per_second=0.5,
                           graphql_anonymous_rate_burst=2)
    with TestClient(create_app(dataclasses.replace(container, app=settings))) as c:
        yield c


def test_fragment_explosion_is_refused_before_authentication_in_linear_time(client):
    doc = explosion(30)
    assert len(doc) < 1400
    started = time.perf_counter()
    r = client.post("/graphql", json={"query": doc})
    elapsed = time.perf_counter() - started
    print(f"level-30 fragment explosion refused in {elapsed * 1000:.1f} ms")
    assert codes(r) == ["QUERY_TOO_COMPLEX"]
    # the cost is the expanded document's: profile + 2^30 copies of F0 (id + traits + 2 subfields)
    assert ext(r)["cost"] == 1 + 2 ** 30 * 4 and ext(r)["limit"] == 10_000
    assert str(1 + 2 ** 30 * 4) in r.json()["errors"][0]["message"]
    # the same shape through aliases is caught by the alias count, also expanded
    aliased = explosion(30).replace("{ id traits", "{ a: id traits")
    assert codes(client.post("/graphql", json={"query": aliased})) == ["TOO_MANY_ALIASES"]


def test_healthz_answers_while_explosions_are_in_flight(live_server):
    results: list[tuple[int, list]] = []

    def attack() -> None:
        with httpx.Client(base_url=live_server, timeout=60) as c:
            for _ in range(3):
                r = c.post("/graphql", json={"query": explosion(30)})
                results.append((r.status_code, [e["extensions"]["code"] for e in r.json()["errors"]]))

    threads = [threading.Thread(target=attack) for _ in range(4)]
    for t in threads:
        t.start()
    health = []
    with httpx.Client(base_url=live_server, timeout=60) as c:
        while any(t.is_alive() for t in threads):
            started = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            health.append(time.perf_counter() - started)
    for t in threads:
        t.join()
    print(f"/healthz during 12 explosions: {len(health)} probes, max {max(health or [0]) * 1000:.1f} ms")
    assert len(results) == 12 and all(code == ["QUERY_TOO_COMPLEX"] for _, code in results)


def test_fragment_cycles_depth_and_aliases_are_refused_with_codes(client, container, workspace):
    token = key(container, workspace, "support_agent")
    cycle = gql(client, 'query { profile(id: "x") { ...A } } fragment A on Profile { ...B } '
                        'fragment B on Profile { id ...A }', token=token)
    assert codes(cycle) == ["BAD_REQUEST"] and ext(cycle)["reason"] == "fragment_cycle"
    deep = gql(client, 'query { profile(id: "x") { ...D } } fragment D on Profile { '
               + "traits { name " * 9 + "}" * 9 + " }", token=token)
    assert codes(deep) == ["QUERY_TOO_DEEP"] and ext(deep)["limit"] == 8
    aliases = " ".join(f'a{i}: profile(id: "x") {{ id }}' for i in range(16))
    r = gql(client, "{ " + aliases + " }", token=token)
    assert codes(r) == ["TOO_MANY_ALIASES"] and ext(r)["aliases"] == 16
    assert codes(gql(client, "{ " + "__typename " * 2100 + "}", token=token)) == ["QUERY_TOO_LARGE"]


def test_cost_limit_refuses_expensive_documents_before_any_read(client, container, workspace, person):
    token = key(container, workspace, "support_agent")
    for q, v in ((README_Q, None), (BENCH_Q, {"id": person}), (PAGE_Q, {"n": 100}), (PROFILE_Q, {"id": person})):
        r = gql(client, q, token=token, variables=v)
        assert "QUERY_TOO_COMPLEX" not in codes(r), (q, r.text)
    before = len(audit_rows(container, workspace))
    flood = " ".join(f"a{i}: profiles(first: 100) {{ edges {{ node {{ id interactions {{ event ts }} }} }} }}"
                     for i in range(15))
    r = gql(client, "{ " + flood + " }", token=token)
    assert codes(r) == ["QUERY_TOO_COMPLEX"] and r.json()["data"] is None
    assert ext(r)["cost"] == 15 * (1 + 100 * (1 + 1 + 1 + (1 + 20 * 2)))
    assert len(audit_rows(container, workspace)) == before  # nothing was read, so nothing audited
    # variables are applied: the same document is cheap or too expensive by its page sizes
    q = "query($n: Int!, $m: Int!) { profiles(first: $n) { edges { node { interactions(first: $m) { event } } } } }"
    assert codes(gql(client, q, token=token, variables={"n": 100, "m": 100})) == ["QUERY_TOO_COMPLEX"]
    assert "errors" not in gql(client, q, token=token, variables={"n": 5, "m": 5}).json()


def test_body_limit_and_content_types_are_checked_before_parsing(client, strict_client, container, workspace):
    token = key(container, workspace, "support_agent")
    padded = {"query": "{ __typename }" + " " * 60_000}
    assert client.post("/graphql", json=padded).json() == {"data": {"__typename": "Query"}}
    big = client.post("/graphql", json={"query": "{ __typename }" + " " * 70_000})
    assert big.status_code == 413 and codes(big) == ["PAYLOAD_TOO_LARGE"] and ext(big)["limit"] == 65_536

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"query": "{ __typename }'
        for _ in range(80):
            yield b" " * 1024
        yield b'"}'

    streamed = client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and codes(streamed) == ["PAYLOAD_TOO_LARGE"]
    small = strict_client.post("/graphql", json={"query": "{ __typename }" + " " * 3000})
    assert small.status_code == 413 and ext(small)["limit"] == 2048  # configurable
    login = 'mutation { login(username: "a", password: "b", workspace: "c") { token } }'
    for ctype, body in (("text/plain", login), ("application/x-www-form-urlencoded", "query=" + login),
                        ("multipart/form-data; boundary=x", "--x--")):
        r = client.post("/graphql", content=body, headers={"content-type": ctype, "Authorization": f"Bearer {token}"})
        assert r.status_code == 415 and codes(r) == ["UNSUPPORTED_MEDIA_TYPE"], r.text
    bad_json = client.post("/graphql", content=b"{nope", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and codes(bad_json) == ["BAD_REQUEST"]
    batch = client.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert batch.status_code == 400 and codes(batch) == ["BAD_REQUEST"]
    deep = '{"query": "{ __typename }", "variables": {"a": ' + "[" * 20_000 + "]" * 20_000 + "}}"
    huge_int = '{"query": "{ __typename }", "variables": {"n": ' + "9" * 5000 + "}}"
    for raw in (deep, huge_int, b'{"query": "\xff\xfe"}'):
        r = client.post("/graphql", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and codes(r) == ["BAD_REQUEST"], r.text
    via_get = client.get("/graphql", params={"query": "{ __typename }"})
    assert via_get.status_code == 400 and codes(via_get) == ["BAD_REQUEST"]


def test_rate_limit_per_principal_and_per_ip_answers_429_with_retry_after(strict_client, container, workspace):
    a, b = key(container, workspace, "support_agent"), key(container, workspace, "analyst")
    statuses = [gql(strict_client, "{ __typename }", token=a).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = gql(strict_client, "{ __typename }", token=a)
    assert codes(limited) == ["RATE_LIMITED"] and int(limited.headers["retry-after"]) >= 1
    assert gql(strict_client, "{ __typename }", token=b).status_code == 200  # per principal
    anonymous = [gql(strict_client, "{ __typename }", purpose=None).status_code for _ in range(2)]
    forged = gql(strict_client, "{ __typename }", token="not-a-real-token", purpose=None)
    assert anonymous == [200, 200] and forged.status_code == 429  # forged tokens share the IP's bucket
    assert codes(forged) == ["RATE_LIMITED"] and forged.headers["retry-after"]


BAD_INPUTS = [
    ("query($n: Int!) { profiles(first: $n) { edges { cursor } } }", {"n": "ten"}),
    ("query($p: Purpose) { profiles(purpose: $p) { edges { cursor } } }", {"p": "world_domination"}),
    ("{ profiles(purpose: world_domination) { edges { cursor } } }", None),
    ("query($f: ProfileFilterInput) { profiles(filter: $f) { edges { cursor } } }", {"f": {"lastSeenSinse": "x"}}),
    ("query($f: ProfileFilterInput) { profiles(filter: $f) { edges { cursor } } }", {"f": {"lastSeenSince": "soon"}}),
    ('{ interactions(profileId: "x", since: "yesterday-ish") { nodes { event } } }', None),
    ("query($s: DateTime) { interactions(profileId: \"x\", since: $s) { nodes { event } } }", {"s": "2026-13-45"}),
    ('{ profiles(filter: {nope: 1}) { edges { cursor } } }', None),
    ('{ profile(id: "x") { idd } }', None),
    ("query($id: ID!) { profile(id: $id) { id } }", {}),
    ('{ profile(id: "x") { id ', None),
]


@pytest.mark.parametrize(("query", "variables"), BAD_INPUTS)
def test_client_mistakes_answer_bad_request_with_a_location(client, container, workspace, query, variables):
    r = gql(client, query, token=key(container, workspace, "support_agent"), variables=variables)
    err = r.json()["errors"][0]
    assert codes(r) == ["BAD_REQUEST"] and err["locations"], r.text
    assert err["message"] != "internal error" and "Did you mean" not in err["message"]
    for python in ("invalid literal", "Traceback", "has no attribute", "isoformat", "NoneType"):
        assert python not in err["message"], err["message"]


def test_bad_cursor_and_unknown_operation_name_are_client_errors(client, container, workspace, person):
    token = key(container, workspace, "support_agent")
    q = 'query($id: ID!) { interactions(profileId: $id, after: "garbage") { nodes { event } } }'
    r = gql(client, q, token=token, variables={"id": person})
    assert codes(r) == ["BAD_REQUEST"] and r.json()["errors"][0]["path"] == ["interactions"]
    named = client.post("/graphql", json={"query": "query A { __typename }", "operationName": "B"},
                        headers={"Authorization": f"Bearer {token}"})
    assert named.status_code == 400 and codes(named) == ["BAD_REQUEST"]


def test_several_operations_without_a_name_are_refused_not_executed(client, container, workspace, person):
    token = key(container, workspace, "support_agent")
    doc = """mutation Grant($id: ID!) { recordConsent(profileId: $id, purposeOfConsent: marketing, channel: any,
      granted: true) { id } }
      query Look($id: ID!) { consents(profileId: $id) { status } }"""
    r = gql(client, doc, token=token, variables={"id": person})
    assert codes(r) == ["BAD_REQUEST"] and ext(r)["reason"] == "operation_name_required" and r.json()["data"] is None
    look = client.post("/graphql", json={"query": doc, "variables": {"id": person}, "operationName": "Look"},
                       headers={"Authorization": f"Bearer {token}", "X-Veil-Purpose": "support"})
    assert look.json()["data"]["consents"] == []  # the mutation never ran


def test_domain_errors_map_through_the_one_mapper_and_faults_are_masked(client, container, workspace, person):
    token = key(container, workspace, "support_agent")
    with mock.patch.object(container.pipeline.profiles, "get_with_consents",
                           side_effect=Conflict("profile is being merged", field="id")):
        r = gql(client, PROFILE_Q, token=token, variables={"id": person})
    assert codes(r) == ["CONFLICT"] and ext(r)["field"] == "id" and r.json()["errors"][0]["path"] == ["profile"]
    with mock.patch.object(container.pipeline.profiles, "get_with_consents",
                           side_effect=TooManyRequests("slow down", extra={"retry_after_seconds": 3})):
        r = gql(client, PROFILE_Q, token=token, variables={"id": person})
    assert r.status_code == 429 and codes(r) == ["RATE_LIMITED"] and ext(r)["retry_after_seconds"] == 3
    with mock.patch.object(container.pipeline.profiles, "get_with_consents",
                           side_effect=KeyError("bolt://10.0.0.7:7687 secret")):
        r = gql(client, PROFILE_Q, token=token, variables={"id": person})
    err = r.json()["errors"][0]
    assert err["message"] == "internal error" and codes(r) == ["INTERNAL_SERVER_ERROR"]
    assert err["extensions"]["request_id"] == r.headers["x-request-id"] and "10.0.0.7" not in r.text


def test_no_log_line_carries_a_literal_a_variable_or_a_password(client, container, workspace, person, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    tag = uuid.uuid4().hex[:8]
    canaries = {"nf": f"canary-nf-{tag}@example.com", "pw": f"canary-pw-{tag}", "lit": f"canary-lit-{tag}",
                "var": f"canary-var-{tag}", "boom": f"canary-boom-{tag}", "dt": f"canary-dt-{tag}",
                "enum": f"canary_enum_{tag}", "cursor": f"canary-cur-{tag}"}
    phone_forms = ["0912-118-247", "0912118247", "+886912118247", "912118247"]
    support, app = key(container, workspace, "support_agent"), key(container, workspace, "app")
    by_id = 'query($t: String!, $v: String!) { profileByIdentifier(type: $t, value: $v) { id traits { value } } }'
    calls = [
        (by_id, {"t": "email", "v": canaries["nf"]}, support, "support"),                # not found
        (by_id, {"t": "phone", "v": "0912-118-247"}, app, "marketing"),                   # consent refused
        ('mutation($p: String!) { login(username: "nobody", password: $p, workspace: "w") { token } }',
         {"p": canaries["pw"]}, None, None),                                                # bad password
        (f'mutation {{ login(username: "nobody", password: "{canaries["pw"]}", workspace: "w") {{ token }} }}',
         None, None, None),
        (f'{{ profile(idd: "{canaries["lit"]}") {{ id }} }}', None, support, "support"),      # validation error
        ("query($s: DateTime) { interactions(profileId: \"x\", since: $s) { nodes { event } } }",
         {"s": canaries["dt"]}, support, "support"),                                        # bad variables
        ("query($p: Purpose) { profiles(purpose: $p) { edges { cursor } } }", {"p": canaries["enum"]}, support, None),
        ("query($n: Int!) { profiles(first: $n) { edges { cursor } } }", {"n": canaries["var"]}, support, "support"),
        ('query($id: ID!, $a: String) { interactions(profileId: $id, after: $a) { nodes { event } } }',
         {"id": person, "a": canaries["cursor"]}, support, "support"),                      # bad cursor
    ]
    for query, variables, token, purpose in calls:
        r = gql(client, query, token=token, variables=variables, purpose=purpose)
        assert r.json().get("errors"), (query, r.text)
    with mock.patch.object(container.pipeline.profiles, "get_with_consents",
                           side_effect=RuntimeError(f"exploded on {canaries['boom']} for {canaries['nf']}")):
        r = gql(client, PROFILE_Q, token=support, variables={"id": person})      # internal error
    assert codes(r) == ["INTERNAL_SERVER_ERROR"]
    logged = capsys.readouterr()
    text = logged.out + logged.err + caplog.text + "\n".join(str(rec.__dict__) for rec in caplog.records)
    assert "graphql_error" in text and "INTERNAL_SERVER_ERROR" in text and "RuntimeError" in text
    for name, canary in canaries.items():
        assert canary not in text, f"{name} canary found in the logs"
    for form in phone_forms:
        assert form not in text
