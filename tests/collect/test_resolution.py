"""The identity-resolution planner on hand-built snapshots (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collect.events import Normalizer
from collect.resolution import Planner, ProfileState, Snapshot, identifier_key
from collect.rules import load_rules

T0 = datetime(2026, 11, 1, tzinfo=UTC)
RULES = load_rules()
NORM = Normalizer(rules=RULES, default_region="TW", max_future_s=3600)


def ev(i: int, **raw):
    raw.setdefault("type", "identify")
    raw.setdefault("messageId", f"m{i}")
    return NORM.normalize(raw, received_at=T0 + timedelta(minutes=i))


def k(kind, value):
    return identifier_key("ws", kind, value)


def plan(events, owner=None, profiles=None):
    return Planner(rules=RULES, workspace="ws", source_id="s").plan(
        events, Snapshot(owner=owner or {}, profiles=profiles or {}))


def test_new_identifiers_make_one_new_profile():
    p = plan([ev(1, userId="u", anonymousId="a")])
    assert len(p.new_profiles) == 1 and len(p.links) == 2 and not p.merges


def test_login_attaches_user_to_anonymous_profile_without_merge():
    p = plan([ev(1, userId="u", anonymousId="a")], owner={k("anonymous_id", "a"): "P1"},
             profiles={"P1": ProfileState(id="P1")})
    assert p.landing == ["P1"] and not p.new_profiles and not p.merges
    assert p.links == [(k("user_id", "u"), "P1", "m1")]


def test_two_profiles_merge_into_the_most_trusted_identifiers_profile():
    p = plan([ev(1, userId="u", anonymousId="a")],
             owner={k("anonymous_id", "a"): "PA", k("user_id", "u"): "PU"},
             profiles={"PA": ProfileState(id="PA"), "PU": ProfileState(id="PU", limited={"user_id": {k("user_id", "u")}})})
    assert [(m.loser, m.winner) for m in p.merges] == [("PA", "PU")]
    assert p.landing == ["PU"]


def test_limit_forbids_merge_and_records_conflict():
    p = plan([ev(1, userId="u2", anonymousId="a")], owner={k("anonymous_id", "a"): "P1"},
             profiles={"P1": ProfileState(id="P1", limited={"user_id": {k("user_id", "u1")}})})
    assert len(p.new_profiles) == 1 and p.landing == [p.new_profiles[0].id]
    assert not p.merges and p.conflicts[0].rule == "max_per_profile:user_id"


def test_in_batch_chain_lands_everything_on_final_root():
    events = [ev(1, anonymousId="a"), ev(2, anonymousId="b"), ev(3, userId="u", anonymousId="a"),
              ev(4, userId="u", anonymousId="b")]
    p = plan(events)
    root = p.landing[-1]
    assert set(p.landing) == {root}
    assert all(m.root == root for m in p.merges)


def test_merge_keeps_newest_trait():
    old = ProfileState(id="PA", traits={"tier": "gold"}, meta={"tier": ["2026-10-02T00:00:00+00:00", "s", "x"]})
    new = ProfileState(id="PU", limited={"user_id": {k("user_id", "u")}}, traits={"tier": "basic"},
                       meta={"tier": ["2026-10-01T00:00:00+00:00", "s", "y"]})
    p = plan([ev(1, userId="u", anonymousId="a")], owner={k("anonymous_id", "a"): "PA", k("user_id", "u"): "PU"},
             profiles={"PA": old, "PU": new})
    assert p.trait_writes[0].traits["tier"] == "gold"
