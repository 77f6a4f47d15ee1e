"""Property-based fuzz of the collection API: Segment-shaped but malformed events never cause a 5xx.

Bounded (a fixed number of examples, no deadline per example) so it runs in CI in seconds.
Every answer must be a Veil JSON body; a 200 must account for every event of the batch.
"""

from __future__ import annotations

import os
import string
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import basic

# VEIL_FUZZ_EXAMPLES=5000 VEIL_FUZZ_RANDOM=1 explores further (and differently each run) than CI's fixed set.
_EXAMPLES = int(os.environ.get("VEIL_FUZZ_EXAMPLES", "120"))
_DERANDOMIZE = not os.environ.get("VEIL_FUZZ_RANDOM")
_FUZZ = settings(max_examples=_EXAMPLES, deadline=None, derandomize=_DERANDOMIZE, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.data_too_large])

_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
scalars = st.one_of(st.none(), st.booleans(), _int64, st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=12), st.sampled_from(["null", "undefined", "", " ", "0", "0000000000"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(string.ascii_letters, max_size=6), inner, max_size=3)),
    max_leaves=6)

_years = st.sampled_from(["0001", "0002", "1899", "1969", "1970", "2026", "9998", "9999"])
_offsets = st.sampled_from(["Z", "+00:00", "+14:00", "-12:00", "+23:59", "-23:59", ""])
timestamps = st.one_of(
    st.builds(lambda y, o: f"{y}-01-01T00:00:00{o}", _years, _offsets),
    st.builds(lambda y, o: f"{y}-12-31T23:59:59.999999{o}", _years, _offsets),
    json_values,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, json_values)


contexts = st.fixed_dictionaries({}, optional={
    "campaign": _maybe(st.dictionaries(st.sampled_from(["source", "medium", "name", "term", "content"]),
                                       json_values, max_size=4)),
    "page": _maybe(st.dictionaries(st.sampled_from(["url", "referrer", "path", "title"]), json_values,
                                   max_size=3)),
    "device": _maybe(st.fixed_dictionaries({}, optional={"id": json_values, "type": json_values})),
    "externalIds": _maybe(st.lists(_maybe(st.fixed_dictionaries(
        {"id": json_values, "type": _maybe(st.sampled_from(["national_id", "loyalty card", "crm"]))},
        optional={"collection": json_values, "encoding": json_values})), max_size=3)),
    "traits": _maybe(st.dictionaries(st.sampled_from(["email", "phone", "member_id", "name"]), json_values,
                                     max_size=3)),
    "channel": json_values,
    "ip": json_values,
    "userAgent": json_values,
    "locale": json_values,
    "consent": json_values,
    "gpc": json_values,
})

events = st.fixed_dictionaries({}, optional={
    "type": _maybe(st.sampled_from(["identify", "track", "page", "screen", "group", "alias"])),
    "userId": _maybe(st.sampled_from(["u-1", "u-2", "M0001"])),
    "anonymousId": _maybe(st.sampled_from(["a-1", "a-2"])),
    "previousId": _maybe(st.sampled_from(["a-1", "u-2"])),
    "groupId": json_values,
    "event": _maybe(st.sampled_from(["Order Completed", "Product Viewed"])),
    "name": json_values,
    "messageId": _maybe(st.sampled_from(["m-1", "m-2", "m-3"])),
    "timestamp": timestamps,
    "originalTimestamp": timestamps,
    "sentAt": timestamps,
    "traits": _maybe(st.dictionaries(st.sampled_from(["email", "phone", "name", "member_id", "tier", "x"]),
                                     json_values, max_size=4)),
    "properties": _maybe(st.dictionaries(
        st.sampled_from(["revenue", "total", "currency", "order_id", "store_id", "products", "url", "x"]),
        _maybe(st.lists(_maybe(st.fixed_dictionaries({}, optional={
            "product_id": json_values, "price": json_values, "quantity": json_values, "name": json_values,
        })), max_size=2)), max_size=4)),
    "context": _maybe(contexts),
    "integrations": json_values,
})


def _check(r: Any, n_events: int | None) -> None:
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    body = r.json()
    if r.status_code == 200:
        assert body["received"] == n_events
        assert body["stored"] + body["duplicates"] + len(body["rejected"]) == n_events
    else:
        assert body["success"] is False and isinstance(body["code"], str) and body["code"] == body["error"]["code"]


@_FUZZ
@given(batch=st.lists(events, min_size=1, max_size=4), sent_at=st.one_of(st.none(), timestamps),
       shared=st.one_of(st.none(), json_values, contexts))
def test_fuzzed_batches_never_answer_5xx(client, write_key, batch, sent_at, shared):
    body: dict[str, Any] = {"batch": batch}
    if sent_at is not None:
        body["sentAt"] = sent_at
    if shared is not None:
        body["context"] = shared
    r = client.post("/v1/batch", content=orjson.dumps(body), headers={**basic(write_key),
                                                                        "Content-Type": "text/plain"})
    _check(r, len(batch))


@_FUZZ
@given(event=events, path=st.sampled_from(["identify", "track", "page", "screen", "group", "alias",
                                           "i", "t", "p", "s", "g", "a"]))
def test_fuzzed_single_events_never_answer_5xx(client, write_key, event, path):
    r = client.post(f"/v1/{path}", content=orjson.dumps({**event, "writeKey": write_key}),
                    headers={"Content-Type": "text/plain"})
    _check(r, 1)


@settings(max_examples=max(_EXAMPLES // 2, 1), deadline=None, derandomize=_DERANDOMIZE, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=64), json_values.map(orjson.dumps)),
       path=st.sampled_from(["/v1/batch", "/v1/b", "/v1/track", "/v1/nope", "/nowhere"]))
def test_fuzzed_raw_bodies_never_answer_5xx(client, write_key, raw, path):
    r = client.post(path, content=raw, headers=basic(write_key))
    assert r.status_code < 500, r.text[:300]
    assert r.json()["success"] is False or r.status_code == 200
