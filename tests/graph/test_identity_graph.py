"""Identity graph against the real Neo4j: concurrency, trait precedence, merge undo, migrations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from graph.migrations import LATEST_VERSION, apply_migrations, current_version
from tests.conftest import cypher


def _ingest(container, workspace, events):
    return container.ingest.ingest(events, workspace=workspace, source="test")


def _uncoalesced(container):
    """An ingest service writing each call in its own transaction (exercises locking and deadlock retry)."""
    from collect.service import IngestService

    return IngestService(repo=container.ingest.repo, settings=container.collect, rules=container.rules,
                         vault=container.vault)


def test_concurrent_batches_never_duplicate_profiles_or_identifiers(container, workspace):
    service = _uncoalesced(container)

    # 8 threads send overlapping events about the same 20 people through different identifiers.
    def batch(worker: int) -> list[dict]:
        out = []
        for person in range(20):
            out.append({"type": "identify", "userId": f"user-{person}", "anonymousId": f"anon-{person}-{worker % 2}",
                        "traits": {"email": f"p{person}@example.com"}, "messageId": f"w{worker}-p{person}"})
            out.append({"type": "track", "anonymousId": f"anon-{person}-{(worker + 1) % 2}", "event": "Viewed",
                        "context": {"traits": {"email": f"p{person}@example.com"}}, "messageId": f"w{worker}-t{person}"})
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda w: service.ingest(batch(w), workspace=workspace, source="test"), range(8)))
    assert sum(r.stored for r in results) == 8 * 40
    dup_ids = cypher(container, "MATCH (i:Identifier {workspace:$w}) WITH i.key AS k, count(*) AS n WHERE n > 1 "
                     "RETURN count(k) AS n", w=workspace)
    assert dup_ids[0]["n"] == 0
    multi = cypher(container, "MATCH (i:Identifier {workspace:$w}) WHERE COUNT { (i)-[:IDENTIFIES]->() } <> 1 "
                   "RETURN count(i) AS n", w=workspace)
    assert multi[0]["n"] == 0
    active = cypher(container, "MATCH (p:Profile {workspace:$w, status:'active'}) RETURN count(p) AS n", w=workspace)
    assert active[0]["n"] == 20
    per_profile = cypher(container, "MATCH (p:Profile {workspace:$w, status:'active'})-[:PERFORMED]->(e) "
                         "RETURN p.id AS id, count(e) AS n", w=workspace)
    assert sorted(r["n"] for r in per_profile) == [16] * 20


def test_newest_event_timestamp_wins_not_arrival_order(container, workspace):
    _ingest(container, workspace, [{"type": "identify", "userId": "t1", "messageId": "new",
                                    "timestamp": "2026-10-02T00:00:00Z", "traits": {"tier": "gold", "city": "台北"}}])
    _ingest(container, workspace, [{"type": "identify", "userId": "t1", "messageId": "old",
                                    "timestamp": "2026-10-01T00:00:00Z", "traits": {"tier": "basic", "gender": "f"}}])
    p = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="t1")
    assert p.traits == {"tier": "gold", "city": "台北", "gender": "f"}
    assert p.trait_sources["tier"][2] == "new" and p.trait_sources["gender"][2] == "old"


def test_merge_can_be_explained_and_undone(container, workspace):
    _ingest(container, workspace, [
        {"type": "track", "anonymousId": "c-1", "event": "Viewed", "messageId": "u1", "timestamp": "2026-10-01T00:00:00Z"},
        {"type": "track", "anonymousId": "c-1", "event": "Added", "messageId": "u2", "timestamp": "2026-10-01T00:01:00Z"},
    ])
    anon = container.profiles.find_by_identifier(workspace=workspace, kind="anonymous_id", value="c-1")
    _ingest(container, workspace, [
        {"type": "identify", "userId": "known", "messageId": "u3", "timestamp": "2026-10-02T00:00:00Z",
         "traits": {"email": "k@example.com"}},
        {"type": "identify", "userId": "known", "anonymousId": "c-1", "messageId": "u4", "timestamp": "2026-10-03T00:00:00Z"},
    ])
    known = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="known")
    assert known.id != anon.id and known.interactions == 4
    history = container.profiles.merge_history(workspace=workspace, profile_id=known.id)
    assert len(history) == 1 and history[0].loser == anon.id and history[0].rule == "shared:anonymous_id"
    assert container.profiles.get_profile(workspace=workspace, profile_id=anon.id).status == "merged"

    moved = container.profiles.undo_merge(workspace=workspace, merge_id=history[0].id, actor="test")
    assert moved == 2
    back = container.profiles.find_by_identifier(workspace=workspace, kind="anonymous_id", value="c-1")
    assert back.id == anon.id and back.status == "active" and back.interactions == 2
    assert container.profiles.get_profile(workspace=workspace, profile_id=known.id).interactions == 2
    assert container.profiles.undo_merge(workspace=workspace, merge_id=history[0].id, actor="test") is None


def test_workspaces_never_resolve_across(container, workspace):
    other = workspace + "-other"
    a = _ingest(container, workspace, [{"type": "identify", "userId": "same", "messageId": "x1"}])
    b = _ingest(container, other, [{"type": "identify", "userId": "same", "messageId": "x1"}])
    assert a.stored == b.stored == 1 and a.profiles[0] != b.profiles[0]
    assert container.profiles.get_profile(workspace=other, profile_id=a.profiles[0]) is None


def test_migrations_are_idempotent(container):
    assert apply_migrations(container.driver, database=container.neo4j.database) == []
    assert current_version(container.driver, database=container.neo4j.database) == LATEST_VERSION
    constraints = cypher(container, "SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names")[0]["names"]
    assert {"identifier_key", "profile_id", "interaction_key"} <= set(constraints)


def test_a_gap_in_migration_versions_filled_later_is_applied(container, monkeypatch):
    import graph.migrations as m

    db = container.neo4j.database
    later = m.Migration(1_000_002, "test: applied first", ())
    gap = m.Migration(1_000_001, "test: merged in later", (
        "CREATE INDEX test_gap_probe IF NOT EXISTS FOR (x:TestGapProbe) ON (x.id)",))
    try:
        monkeypatch.setattr(m, "MIGRATIONS", (*m.MIGRATIONS, later))
        assert m.apply_migrations(container.driver, database=db) == [later.version]
        monkeypatch.setattr(m, "MIGRATIONS", (*m.MIGRATIONS, gap))
        assert m.current_version(container.driver, database=db) == LATEST_VERSION  # 1_000_001 still missing
        assert m.apply_migrations(container.driver, database=db) == [gap.version]
        assert m.current_version(container.driver, database=db) == later.version
        assert "test_gap_probe" in cypher(container, "SHOW INDEXES YIELD name RETURN collect(name) AS n")[0]["n"]
    finally:
        container.driver.execute_query("MATCH (s:SchemaMigration) WHERE s.version > 1000000 DELETE s", database_=db)
        container.driver.execute_query("DROP INDEX test_gap_probe IF EXISTS", database_=db)


def test_coalesced_requests_keep_per_request_results(container, workspace):
    from collect.coalesce import Coalescer
    from collect.service import IngestService

    service = IngestService(repo=container.ingest.repo, settings=container.collect, rules=container.rules,
                            vault=container.vault)
    service.coalescer = Coalescer(service.write, max_events=1000)

    def req(n: int) -> list[dict]:
        # Every request repeats message "shared" (a retry racing the original) and adds its own.
        return [{"type": "identify", "userId": "co-1", "messageId": "shared"},
                {"type": "track", "userId": "co-1", "event": "x", "messageId": f"own-{n}"},
                {"type": "track", "event": "bad"}]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: service.ingest(req(n), workspace=workspace, source="test"), range(12)))
    assert sum(r.stored for r in results) == 13 and sum(r.duplicates for r in results) == 11
    assert all(len(r.rejected) == 1 and r.rejected[0].index == 2 for r in results)
    assert len({r.profiles[1] for r in results}) == 1
    n = cypher(container, "MATCH (p:Profile {workspace:$w})-[:PERFORMED]->(e) RETURN count(e) AS n", w=workspace)
    assert n[0]["n"] == 13
