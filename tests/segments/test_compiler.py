"""The segment compiler without a database: validation paths, parameters, quoting, references."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from graph.segments import UnsafeName, quote_key
from segments.compiler import Catalog, compile_segment
from segments.model import SegmentError, definition_json_schema, dump_definition, parse_definition

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CATALOG = Catalog.of(traits={"member_tier", "city", "visits"}, events={"Product Viewed", "Order Completed"},
                     identifier_types={"email", "phone"}, categories={"dairy", "meat"})
INJECTION = "x`}) DETACH DELETE (n) //"


def compile_(definition, **kw):
    return compile_segment(definition, catalog=CATALOG, now=NOW, **kw)


def refused(definition, **kw) -> SegmentError:
    with pytest.raises(SegmentError) as exc:
        compile_(definition, **kw)
    return exc.value


def test_no_user_value_reaches_the_query_text():
    values = ["gold-tier-7731", "Taipei'; MATCH (n) DETACH DELETE n //", "utm-src-5521", "store-8812",
              "TWD-xx", "sku-9910", "cat-as-value-3349"]
    definition = {"type": "or", "conditions": [
        {"type": "and", "conditions": [
            {"type": "trait", "name": "member_tier", "op": "eq", "value": values[0]},
            {"type": "trait", "name": "city", "op": "in", "value": [values[1], "x"]},
            {"type": "trait", "name": "visits", "op": "gte", "value": 123456},
            {"type": "trait", "name": "city", "op": "contains", "value": values[6]},
        ]},
        {"type": "event", "event": "Product Viewed", "count": {"op": "at_least", "n": 987654},
         "window": {"last": 30, "unit": "days"},
         "where": [{"field": "utm_source", "op": "eq", "value": values[2]},
                   {"field": "store_id", "op": "ne", "value": values[3]},
                   {"field": "currency", "op": "in", "value": [values[4]]},
                   {"field": "revenue", "op": "gt", "value": 4321.5}]},
        {"type": "event", "interaction_type": "track", "revenue": {"op": "at_least", "value": 55555.0}},
        {"type": "purchase", "product_ids": [values[5]], "count": {"op": "exactly", "n": 0}},
        {"type": "not", "condition": {"type": "identifier", "identifier": "email"}},
        {"type": "consent", "purpose": "marketing", "channel": "email"},
    ]}
    compiled = compile_(definition)
    text = compiled.predicate
    for v in [*values, "123456", "987654", "4321.5", "55555", "marketing", "Product Viewed", "'email'"]:
        assert v not in text
    names = set(re.findall(r"\$(\w+)", text))
    assert names == set(compiled.params)
    assert all(re.fullmatch(r"v\d+", n) for n in names)
    flat = [x for v in compiled.params.values() for x in (v if isinstance(v, list) else [v])]
    assert values[1] in flat and 987654 in flat and 4321.5 in flat
    # Only allow-listed keys appear, quoted.
    assert set(re.findall(r"p\.(`[^`]*`)", text)) == {"`trait.member_tier`", "`trait.city`", "`trait.visits`"}
    assert set(re.findall(r"e\.(`[^`]*`)", text)) == {"`utm_source`", "`store_id`", "`currency`", "`revenue`"}


def test_window_cutoff_is_a_datetime_parameter():
    compiled = compile_({"type": "purchase", "categories": ["dairy"], "window": {"last": 90, "unit": "days"}})
    cutoffs = [v for v in compiled.params.values() if isinstance(v, datetime)]
    assert cutoffs == [NOW - timedelta(days=90)]
    hours = compile_({"type": "event", "event": "Product Viewed", "window": {"last": 6, "unit": "hours"}})
    assert NOW - timedelta(hours=6) in hours.params.values()


@pytest.mark.parametrize(("definition", "path", "code"), [
    ({"type": "and", "conditions": [
        {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"},
        {"type": "trait", "name": INJECTION, "op": "eq", "value": "x"}]}, "conditions[1].name", "value_error"),
    ({"type": "and", "conditions": [
        {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"},
        {"type": "trait", "name": "x'}) DETACH DELETE (n) //", "op": "eq", "value": "x"}]},
     "conditions[1].name", "unknown_trait"),
    ({"type": "or", "conditions": [{"type": "event", "event": "Viewed\" OR 1=1 //"}]},
     "conditions[0].event", "unknown_event"),
    ({"type": "event", "event": "Product Viewed",
      "where": [{"field": "channel", "op": "eq", "value": "web"},
                {"field": "channel` = 1 OR true //", "op": "eq", "value": "web"}]}, "where[1].field", "literal_error"),
    ({"type": "not", "condition": {"type": "trait", "name": "member_tier", "op": "= 'x' OR true //",
                                   "value": "gold"}}, "condition.op", "literal_error"),
    ({"type": "event", "event": "Product Viewed",
      "where": [{"field": "channel", "op": "STARTS WITH", "value": "w"}]}, "where[0].op", "literal_error"),
    ({"type": "identifier", "identifier": "email'}) RETURN 1 //"}, "identifier", "unknown_identifier_type"),
    ({"type": "purchase", "categories": ["dairy", "diary"]}, "categories[1]", "unknown_category"),
    ({"type": "DETACH DELETE"}, "type", "unknown_condition_type"),
    ({"type": "trait", "name": "member_tier", "op": "eq", "value": "gold", "key": "`x`"}, "key", "unknown_field"),
])
def test_injection_and_bad_names_are_refused_with_their_path(definition, path, code):
    err = refused(definition)
    assert err.field == path
    assert err.issues[0].code == code
    assert "DETACH" not in err.message or code == "unknown_trait"


def test_unknown_trait_says_what_is_wrong():
    err = refused({"type": "trait", "name": "member_teir", "op": "eq", "value": "gold"})
    assert err.code == "unknown_trait"
    assert err.field == "name"
    assert "unknown trait 'member_teir'" in err.message and "member_tier" in err.message


def test_all_issues_are_reported_together():
    err = refused({"type": "and", "conditions": [
        {"type": "trait", "name": "nope", "op": "exists"},
        {"type": "event", "event": "Nope"}]})
    assert [i.path for i in err.issues] == ["conditions[0].name", "conditions[1].event"]


@pytest.mark.parametrize(("definition", "path"), [
    ({"type": "trait", "name": "visits", "op": "in", "value": 3}, "(root)"),
    ({"type": "trait", "name": "visits", "op": "exists", "value": 3}, "(root)"),
    ({"type": "event"}, "(root)"),
    ({"type": "event", "event": "Product Viewed", "count": {"n": 1}, "revenue": {"value": 1}}, "(root)"),
    ({"type": "event", "event": "Product Viewed", "where": [{"field": "revenue", "op": "eq", "value": "x"}]},
     "where[0]"),
    ({"type": "purchase", "categories": ["dairy"], "window": {"last": 0}}, "window.last"),
    ({"type": "purchase", "categories": ["dairy"], "window": {"last": 20, "unit": "years"}}, "window.unit"),
    ({"type": "and", "conditions": []}, "conditions"),
    ({"type": "consent", "purpose": "spam"}, "purpose"),
])
def test_shape_errors_point_at_the_part(definition, path):
    with pytest.raises(SegmentError) as exc:
        parse_definition(definition)
    assert (exc.value.field or "(root)") == path


def test_quote_key_only_quotes_allow_listed_plain_names():
    assert quote_key("trait.tier", allowed={"trait.tier"}) == "`trait.tier`"
    with pytest.raises(UnsafeName):
        quote_key("trait.other", allowed={"trait.tier"})
    for bad in ("trait.x`y", "trait.a\\u0060b", "trait.\nx", ""):
        with pytest.raises(UnsafeName):
            quote_key(bad, allowed={bad})  # even when it is on the list


def test_segment_references_are_inlined_with_cycle_and_depth_checks():
    saved = {
        "gold": parse_definition({"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"}),
        "gold_viewers": parse_definition({"type": "and", "conditions": [
            {"type": "segment", "id": "gold"}, {"type": "event", "event": "Product Viewed"}]}),
        "a": parse_definition({"type": "segment", "id": "b"}),
        "b": parse_definition({"type": "or", "conditions": [{"type": "segment", "id": "a"}]}),
    }
    compiled = compile_({"type": "not", "condition": {"type": "segment", "id": "gold_viewers"}},
                        resolve=saved.get)
    assert compiled.references == ("gold_viewers", "gold")
    assert "`trait.member_tier`" in compiled.predicate and "gold" in compiled.params.values()

    err = refused({"type": "segment", "id": "a"}, resolve=saved.get)
    assert err.code == "segment_cycle" and "a -> b -> a" in err.message
    err = refused({"type": "segment", "id": "x"}, resolve=saved.get, segment_id="x")  # self
    assert err.code == "segment_cycle"
    err = refused({"type": "segment", "id": "missing"}, resolve=saved.get)
    assert err.code == "unknown_segment" and err.field == "id"

    chain = {f"s{i}": parse_definition({"type": "segment", "id": f"s{i + 1}"}) for i in range(10)}
    chain["s10"] = saved["gold"]
    err = refused({"type": "segment", "id": "s0"}, resolve=chain.get)
    assert err.code == "segment_too_deep"
    assert compile_({"type": "segment", "id": "s7"}, resolve=chain.get).references == ("s7", "s8", "s9", "s10")


def test_referenced_definition_errors_carry_a_nested_path():
    saved = {"old": parse_definition({"type": "trait", "name": "gone", "op": "exists"})}
    err = refused({"type": "and", "conditions": [{"type": "segment", "id": "old"}]}, resolve=saved.get)
    assert err.field == "conditions[0]<segment old>.name"


def test_schema_export_and_round_trip():
    schema = definition_json_schema()
    assert set(schema["$defs"]) >= {"TraitCondition", "EventCondition", "PurchaseCondition", "SegmentRef"}
    d = parse_definition('{"type": "event", "event": "Product Viewed", "count": {"n": 3}}')
    assert parse_definition(dump_definition(d)) == d
