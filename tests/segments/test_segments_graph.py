"""Segments against the real Neo4j: the conditions select exactly the right people, saved
segments reference each other, refusals touch nothing, and membership keeps its history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from consent.model import ConsentRecord
from graph.consents import ConsentRepository
from graph.segments import SegmentRepository
from segments.model import SegmentError
from segments.service import SegmentService
from tests.conftest import cypher

DAIRY_NOT_MEAT = {"type": "and", "conditions": [
    {"type": "purchase", "categories": ["dairy"], "window": {"last": 90, "unit": "days"}},
    {"type": "not", "condition": {"type": "purchase", "categories": ["meat"],
                                  "window": {"last": 90, "unit": "days"}}},
]}
GOLD = {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"}


class Clock:
    """A settable clock for the service (evaluation times)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def identify(uid: str, days: float = 200, *, email: str | None = None, **traits) -> dict:
    if email:
        traits["email"] = email
    return {"type": "identify", "userId": uid, "traits": traits, "timestamp": ago(days),
            "messageId": uuid.uuid4().hex}


def order(uid: str, days: float, *categories: str, revenue: float = 100.0) -> dict:
    return {"type": "track", "userId": uid, "event": "Order Completed", "timestamp": ago(days),
            "messageId": uuid.uuid4().hex,
            "properties": {"order_id": uuid.uuid4().hex[:8], "revenue": revenue, "currency": "TWD",
                           "products": [{"product_id": f"{c}-1", "category": c, "price": 50, "quantity": 1}
                                        for c in categories]}}


def view(uid: str, days: float, *, channel: str = "web") -> dict:
    return {"type": "track", "userId": uid, "event": "Product Viewed", "timestamp": ago(days),
            "messageId": uuid.uuid4().hex, "context": {"channel": channel}, "properties": {"product_id": "p1"}}


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def service(container, clock) -> SegmentService:
    return SegmentService(repo=SegmentRepository(container.driver, database=container.neo4j.database), clock=clock)


@pytest.fixture()
def people(container, workspace):
    """Ingest events and map user ids to profile ids."""

    def load(events: list[dict]) -> dict[str, str]:
        result = container.ingest.ingest(events, workspace=workspace, source="test")
        assert not result.rejected, result.rejected
        return {ev["userId"]: result.profiles[i] for i, ev in enumerate(events)}

    return load


def members(service, workspace, definition) -> set[str]:
    count, sample = service.preview(workspace=workspace, definition=definition, sample_size=100)
    assert count == len(sample)
    return set(sample)


def test_bought_dairy_but_never_meat_in_the_last_90_days(service, workspace, people):
    ids = people([
        identify("nobody"),
        order("old_meat", 10, "dairy"), order("old_meat", 100, "meat"),
        order("both", 10, "dairy"), order("both", 20, "meat"),
        order("one_basket", 5, "dairy", "meat"),
        order("only_meat", 10, "meat"),
        order("old_dairy", 120, "dairy"),
    ])
    assert members(service, workspace, DAIRY_NOT_MEAT) == {ids["old_meat"]}
    never = {"type": "and", "conditions": [
        DAIRY_NOT_MEAT["conditions"][0],
        {"type": "purchase", "categories": ["meat"], "window": {"last": 90, "unit": "days"},
         "count": {"op": "exactly", "n": 0}}]}
    assert members(service, workspace, never) == {ids["old_meat"]}
    ever_dairy = {"type": "purchase", "categories": ["dairy"]}
    assert members(service, workspace, ever_dairy) == {ids[u] for u in ("old_meat", "both", "one_basket", "old_dairy")}


def test_trait_and_event_count_in_a_window(service, workspace, people):
    ids = people([
        identify("in", member_tier="gold"), view("in", 1), view("in", 10), view("in", 29),
        identify("two_views", member_tier="gold"), view("two_views", 1), view("two_views", 2),
        identify("silver", member_tier="silver"), *[view("silver", d) for d in (1, 2, 3)],
        identify("stale", member_tier="gold"), view("stale", 1), view("stale", 2), view("stale", 40),
    ])
    definition = {"type": "and", "conditions": [
        GOLD, {"type": "event", "event": "Product Viewed", "count": {"op": "at_least", "n": 3},
               "window": {"last": 30, "unit": "days"}}]}
    assert members(service, workspace, definition) == {ids["in"]}
    exactly_two = {"type": "event", "event": "Product Viewed", "count": {"op": "exactly", "n": 2},
                   "window": {"last": 30, "unit": "days"}}
    assert members(service, workspace, exactly_two) == {ids["two_views"], ids["stale"]}
    on_app = {"type": "event", "event": "Product Viewed", "where": [{"field": "channel", "op": "eq", "value": "app"}]}
    assert members(service, workspace, on_app) == set()


def test_total_revenue_and_property_filters(service, workspace, people):
    ids = people([order("big", 5, "dairy", revenue=900), order("big", 50, "meat", revenue=300),
                  order("small", 5, "dairy", revenue=200), identify("no_orders")])
    spent = {"type": "event", "event": "Order Completed", "revenue": {"op": "at_least", "value": 1000}}
    assert members(service, workspace, spent) == {ids["big"]}
    recent = {**spent, "revenue": {"op": "at_least", "value": 500}, "window": {"last": 30, "unit": "days"}}
    assert members(service, workspace, recent) == {ids["big"]}
    twd_over = {"type": "event", "event": "Order Completed",
                "where": [{"field": "currency", "op": "eq", "value": "TWD"},
                          {"field": "revenue", "op": "gt", "value": 250}]}
    assert members(service, workspace, twd_over) == {ids["big"]}


def test_or_not_and_identifier_presence(service, workspace, people):
    ids = people([
        identify("gold_mail", member_tier="gold", email="gm@example.com"),
        identify("silver_mail", member_tier="silver", email="sm@example.com"),
        identify("gold_nomail", member_tier="gold"),
        identify("plain"),
    ])
    has_email = {"type": "identifier", "identifier": "email"}
    assert members(service, workspace, has_email) == {ids["gold_mail"], ids["silver_mail"]}
    assert members(service, workspace, {**has_email, "present": False}) == {ids["gold_nomail"], ids["plain"]}
    either = {"type": "or", "conditions": [GOLD, has_email]}
    assert members(service, workspace, either) == {ids["gold_mail"], ids["silver_mail"], ids["gold_nomail"]}
    # NOT includes people without the trait at all (leaves are never null).
    not_gold = {"type": "not", "condition": GOLD}
    assert members(service, workspace, not_gold) == {ids["silver_mail"], ids["plain"]}
    ne_gold = {"type": "trait", "name": "member_tier", "op": "ne", "value": "gold"}
    assert members(service, workspace, ne_gold) == {ids["silver_mail"]}
    tier_in = {"type": "trait", "name": "member_tier", "op": "in", "value": ["silver", "platinum"]}
    assert members(service, workspace, tier_in) == {ids["silver_mail"]}
    exists = {"type": "trait", "name": "member_tier", "op": "exists"}
    assert len(members(service, workspace, exists)) == 3


def test_consent_latest_record_wins(container, service, workspace, people):
    ids = people([identify(u) for u in ("granted", "withdrawn", "any_grant", "denied", "regranted",
                                        "channel_refused", "other_basis", "no_records")])
    consents = ConsentRepository(container.driver, database=container.neo4j.database)
    now = datetime.now(UTC)

    def rec(user: str, status: str, channel: str = "email", days: float = 10, basis: str = "consent"):
        return ConsentRecord(id=uuid.uuid4().hex, subject=ids[user], purpose="marketing", channel=channel,
                             status=status, lawful_basis=basis, source="test",
                             captured_at=now - timedelta(days=days), jurisdiction="TW_PDPA")

    consents.append(workspace=workspace, records=[
        rec("granted", "granted"),
        rec("withdrawn", "granted", days=10), rec("withdrawn", "withdrawn", days=5),
        rec("any_grant", "granted", channel="any"),
        rec("denied", "denied"),
        rec("regranted", "withdrawn", days=10), rec("regranted", "granted", days=2),
        rec("channel_refused", "denied", days=10), rec("channel_refused", "granted", channel="any", days=2),
        rec("other_basis", "granted", basis="legitimate_interests"),
    ])
    email = {"type": "consent", "purpose": "marketing", "channel": "email"}
    assert members(service, workspace, email) == {ids[u] for u in ("granted", "any_grant", "regranted")}

    # A grant recorded on a browsing profile counts after it merges into the customer.
    anon = container.ingest.ingest([{"type": "page", "anonymousId": "cookie-1", "messageId": uuid.uuid4().hex}],
                                   workspace=workspace, source="test").profiles[0]
    consents.append(workspace=workspace, records=[ConsentRecord(
        id=uuid.uuid4().hex, subject=anon, purpose="marketing", channel="email", status="granted",
        lawful_basis="consent", source="test", captured_at=now - timedelta(days=1), jurisdiction="TW_PDPA")])
    customer = people([identify("no_records", 1)])["no_records"]
    people([{**identify("no_records", 0.5), "anonymousId": "cookie-1"}])
    assert cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.status AS s", id=anon)[0]["s"] == "merged"
    assert customer in members(service, workspace, email)
    general = {"type": "consent", "purpose": "marketing"}
    assert members(service, workspace, general) == {ids["any_grant"], ids["channel_refused"]}


def test_saved_segment_references_another_and_cycles_are_refused(service, workspace, people):
    ids = people([identify("g", member_tier="gold", email="g@example.com"), identify("s", member_tier="silver",
                                                                                   email="s@example.com"),
                  identify("g2", member_tier="gold")])
    gold = service.save(workspace=workspace, name="Gold members", definition=GOLD)
    reachable = service.save(workspace=workspace, name="Reachable gold", definition={
        "type": "and", "conditions": [{"type": "segment", "id": gold.id},
                                      {"type": "identifier", "identifier": "email"}]})
    assert members(service, workspace, {"type": "segment", "id": reachable.id}) == {ids["g"]}
    assert set(service.members(workspace=workspace, segment_id=reachable.id)) == {ids["g"]}
    # Changing the referenced segment changes the referencing one.
    service.save(workspace=workspace, name="Silver", segment_id=gold.id,
                 definition={**GOLD, "value": "silver"})
    assert members(service, workspace, {"type": "segment", "id": reachable.id}) == {ids["s"]}

    with pytest.raises(SegmentError) as exc:
        service.save(workspace=workspace, name="Loop", segment_id=gold.id,
                     definition={"type": "or", "conditions": [GOLD, {"type": "segment", "id": reachable.id}]})
    assert exc.value.code == "segment_cycle"
    assert exc.value.field == f"conditions[1]<segment {reachable.id}>.conditions[0].id"
    assert f"{gold.id} -> {reachable.id} -> {gold.id}" in exc.value.message
    assert service.definition(workspace=workspace, segment_id=gold.id).value == "silver"  # unchanged

    # Another workspace's segment is not there.
    with pytest.raises(SegmentError) as exc:
        service.preview(workspace=f"{workspace}-other", definition={"type": "segment", "id": gold.id})
    assert exc.value.code == "unknown_segment"


def test_injection_attempts_are_refused_and_touch_nothing(container, service, workspace, people):
    people([identify("a", member_tier="gold"), view("a", 1)])
    attempts = [
        ({"type": "and", "conditions": [GOLD, {"type": "trait", "name": "x`}) DETACH DELETE (n) //", "op": "eq",
                                               "value": 1}]}, "conditions[1].name"),
        ({"type": "and", "conditions": [GOLD, {"type": "event", "event": "Viewed' OR 1=1 //"}]}, "conditions[1].event"),
        ({"type": "event", "event": "Product Viewed",
          "where": [{"field": "channel`) DETACH DELETE (e) //", "op": "eq", "value": "web"}]}, "where[0].field"),
        ({"type": "trait", "name": "member_tier", "op": "= 'gold' OR true WITH p DETACH DELETE p //",
          "value": "gold"}, "op"),
        ({"type": "trait", "name": "member_teir", "op": "eq", "value": "gold"}, "name"),
    ]
    for definition, path in attempts:
        with pytest.raises(SegmentError) as exc:
            service.preview(workspace=workspace, definition=definition)
        assert exc.value.field == path
    # A hostile *value* is only ever a parameter: it matches nobody and deletes nothing.
    assert members(service, workspace, {**GOLD, "value": "gold' OR 1=1 WITH p DETACH DELETE p //"}) == set()
    n = cypher(container, "MATCH (p:Profile {workspace: $w}) RETURN count(p) AS n, "
               "COUNT { MATCH (e:Interaction {workspace: $w}) } AS e", w=workspace)[0]
    assert (n["n"], n["e"]) == (1, 2)


def test_known_names(service, workspace, people):
    people([identify("a", member_tier="gold", email="a@example.com"), order("a", 1, "dairy"), view("a", 1)])
    cat = service.catalog(workspace=workspace)
    assert {"member_tier", "email"} <= cat.traits
    assert cat.events == {"Order Completed", "Product Viewed"}
    assert cat.categories == {"dairy"}
    assert {"user_id", "email"} <= cat.identifier_types


def test_membership_history_who_entered_and_left(container, service, workspace, people, clock):
    ids = people([identify("ann", 30, member_tier="gold"), identify("bob", 30, member_tier="silver")])
    seg = service.save(workspace=workspace, name="Gold", definition=GOLD)
    start = clock.now
    clock.now = start - timedelta(days=10)
    first = service.evaluate(workspace=workspace, segment_id=seg.id)
    assert (first.entered, first.left, first.size) == (1, 0, 1)

    # Ann is downgraded, Bob upgraded; evaluated again today.
    people([identify("ann", 1, member_tier="silver"), identify("bob", 1, member_tier="gold")])
    clock.now = start
    second = service.evaluate(workspace=workspace, segment_id=seg.id)
    assert (second.entered, second.left, second.size) == (1, 1, 1)
    again = service.evaluate(workspace=workspace, segment_id=seg.id)  # nothing changed: nothing written
    assert (again.entered, again.left, again.size) == (0, 0, 1)

    week_ago, later = start - timedelta(days=7), start + timedelta(seconds=1)
    left = service.who_left(workspace=workspace, segment_id=seg.id, since=week_ago, until=later)
    entered = service.who_entered(workspace=workspace, segment_id=seg.id, since=week_ago, until=later)
    assert [c.profile_id for c in left] == [ids["ann"]] and [c.profile_id for c in entered] == [ids["bob"]]
    assert left[0].at == start
    all_time = service.who_entered(workspace=workspace, segment_id=seg.id, since=start - timedelta(days=30),
                                   until=later)
    assert [c.profile_id for c in all_time] == [ids["ann"], ids["bob"]]
    sizes = service.size_history(workspace=workspace, segment_id=seg.id,
                                 times=[start - timedelta(days=11), start - timedelta(days=5), later])
    assert [p.size for p in sizes] == [0, 1, 1]

    # Ann comes back: a new membership, the old one stays as history.
    people([identify("ann", 0.5, member_tier="gold")])
    clock.now = start + timedelta(hours=1)
    assert service.evaluate(workspace=workspace, segment_id=seg.id).size == 2
    rels = cypher(container, "MATCH (p:Profile {id: $id})-[m:IN_SEGMENT]->(:Segment {id: $s}) "
                  "RETURN m.left_at IS NULL AS open ORDER BY m.entered_at", id=ids["ann"], s=seg.id)
    assert [r["open"] for r in rels] == [False, True]


def test_missing_segment_is_not_found(service, workspace):
    with pytest.raises(SegmentError) as exc:
        service.evaluate(workspace=workspace, segment_id="seg_nope")
    assert exc.value.code == "segment_not_found" and exc.value.status == 404


def test_nested_compound_segment(service, workspace, people):
    """(dairy in 90 days and meat never, or platinum with no order at all) and reachable by e-mail."""
    ids = people([
        identify("dairy_mail", email="dm@example.com"), order("dairy_mail", 10, "dairy"),
        identify("dairy_meat_old", email="dmo@example.com"), order("dairy_meat_old", 10, "dairy"),
        order("dairy_meat_old", 200, "meat"),                                    # meat ever: out
        order("dairy_nomail", 10, "dairy"),                                       # no e-mail: out
        identify("plat", member_tier="platinum", email="p@example.com"),          # platinum, no orders: in
        identify("plat_buyer", member_tier="platinum", email="pb@example.com"), order("plat_buyer", 5, "bakery"),
        identify("old_dairy", email="od@example.com"), order("old_dairy", 95, "dairy"),  # outside 90 days
    ])
    definition = {"type": "and", "conditions": [
        {"type": "or", "conditions": [
            {"type": "and", "conditions": [
                {"type": "purchase", "categories": ["dairy"], "window": {"last": 90, "unit": "days"}},
                {"type": "purchase", "categories": ["meat"], "count": {"op": "exactly", "n": 0}}]},
            {"type": "and", "conditions": [
                {"type": "trait", "name": "member_tier", "op": "eq", "value": "platinum"},
                {"type": "event", "event": "Order Completed", "count": {"op": "at_most", "n": 0}}]}]},
        {"type": "identifier", "identifier": "email"}]}
    assert members(service, workspace, definition) == {ids["dairy_mail"], ids["plat"]}
    two_orders_big = {"type": "and", "conditions": [
        {"type": "event", "event": "Order Completed", "count": {"op": "at_least", "n": 2}},
        {"type": "event", "event": "Order Completed", "revenue": {"op": "at_least", "value": 200}}]}
    assert members(service, workspace, two_orders_big) == {ids["dairy_meat_old"]}
