"""The matching job against the real Neo4j: planted duplicates merged or queued, look-alike people
kept apart, undo, rejected pairs never proposed again, audit without values, workspaces apart."""

from __future__ import annotations

import json

import pytest

from access.principal import Principal, PrincipalKind
from api.identity_wiring import build_service
from core.errors import VeilError
from resolution.service import ResolutionService
from resolution.synthetic import synth_records
from tests.conftest import cypher

# Planted people: (record id, traits). `home_phone` is not an identifier, so a shared home phone
# does not merge anyone deterministically; `email` is, so an exact shared e-mail would.
PLANTED = [
    ("crm-ming", {"name": "王小明", "birthday": "1985-03-07", "email": "xiaoming.wang@gmail.com",
                  "home_phone": "0912-345-678", "address": "台北市中山路100號5樓", "city": "台北市"}),
    ("air-ming", {"name": "Wang Hsiao-Ming", "birthday": "1985-07-03", "email": "xiaoming.wnag@gmail.com",
                  "home_phone": "0912-345-687", "address": "台北市中山路100號5樓", "city": "台北市"}),
    ("pos-ming", {"name": "王曉明", "birthday": "1985/03/07", "home_phone": "0912345678", "city": "臺北市"}),
    # A father and son with the same name, address and home phone.
    ("crm-dad", {"name": "陳大文", "birthday": "1952-05-01", "email": "tmchan@netvigator.com",
                 "home_phone": "+852 9123 4567", "address": "九龍彌敦道300號8樓", "city": "九龍"}),
    ("crm-son", {"name": "陳大文", "birthday": "1981-09-12", "email": "chan.taiman@gmail.com",
                 "home_phone": "+852 9123 4567", "address": "九龍彌敦道300號8樓", "city": "九龍"}),
    # Sisters sharing an address and home phone.
    ("crm-sis1", {"name": "林美玲", "birthday": "1990-02-14", "email": "meiling.lin@yahoo.com.tw",
                  "home_phone": "02-2345-6789", "address": "台中市民生路20號", "city": "台中市"}),
    ("crm-sis2", {"name": "林美華", "birthday": "1993-11-30", "email": "meihua.lin@yahoo.com.tw",
                  "home_phone": "02-2345-6789", "address": "台中市民生路20號", "city": "台中市"}),
]


def _events(records: list[tuple[str, dict]]) -> list[dict]:
    # Records from forms, deliveries and tills carry no login: an anonymous id each (no per-profile
    # limit). Two different user_ids would block a merge (one user_id per profile).
    return [{"type": "identify", "anonymousId": uid, "messageId": f"{uid}-m1", "traits": traits}
            for uid, traits in records]


def _pid(container, workspace: str, uid: str) -> str:
    return container.profiles.find_by_identifier(workspace=workspace, kind="anonymous_id", value=uid).id


def _background(n: int) -> list[tuple[str, dict]]:
    records, _ = synth_records(n, seed=11, dup_rate=0.2, hard_negative_rate=0.0)
    out = []
    for r in records:
        traits = {"name": r["name"], "birthday": r["dob"], "home_phone": r["phone"], "address": r["address"],
                  "city": r["city"]}
        if r["email"]:
            traits["email"] = r["email"]
        out.append((f"bg-{r['uid']}", {k: v for k, v in traits.items() if v}))
    return out


@pytest.fixture()
def system(workspace) -> Principal:
    return Principal(id="system:steward-test", kind=PrincipalKind.SYSTEM, workspace=workspace, roles=("admin",))


@pytest.fixture()
def service(container) -> ResolutionService:
    return build_service(container)


@pytest.fixture()
def loaded(container, workspace) -> dict[str, str]:
    """The planted people plus ~150 synthetic customers; record id -> profile id."""
    records = PLANTED + _background(150)
    r = container.ingest.ingest(_events(records), workspace=workspace, source="crm")
    assert not r.rejected, r.rejected
    return {uid: _pid(container, workspace, uid) for uid, _ in PLANTED}


def _root(container, workspace, pid: str) -> str:
    rows = cypher(container, "MATCH (p:Profile {id: $id, workspace: $w}) "
                             "OPTIONAL MATCH (p)-[:MERGED_INTO*1..]->(r:Profile {status: 'active'}) "
                             "RETURN coalesce(r.id, p.id) AS root", id=pid, w=workspace)
    return rows[0]["root"]


def _queued(service, system) -> list:
    return service.review_items(system, status="pending", limit=1000)


def _linked(container, workspace, service, system, a: str, b: str) -> str:
    """'merged', 'queued' or 'apart' for two profiles."""
    if _root(container, workspace, a) == _root(container, workspace, b):
        return "merged"
    if any({c.left, c.right} == {a, b} for c in _queued(service, system)):
        return "queued"
    return "apart"


def test_planted_duplicates_merge_or_queue_and_look_alikes_stay_apart(container, workspace, loaded, service,
                                                                    system):
    report = service.run(system)
    assert report.mode == "full" and report.profiles >= 100  # exact e-mail duplicates merged at ingest
    ming = [loaded["crm-ming"], loaded["air-ming"], loaded["pos-ming"]]
    assert _linked(container, workspace, service, system, ming[0], ming[1]) in ("merged", "queued")
    assert _linked(container, workspace, service, system, ming[0], ming[2]) in ("merged", "queued")
    for a, b in (("crm-dad", "crm-son"), ("crm-sis1", "crm-sis2")):
        assert _root(container, workspace, loaded[a]) != _root(container, workspace, loaded[b]), (a, b)
    # Every probabilistic merge is in the ledger with its evidence.
    merges = cypher(container, "MATCH (g:Merge {workspace: $w, rule: 'probabilistic'}) RETURN g {.*} AS g",
                    w=workspace)
    assert len(merges) == report.merged > 0
    for m in merges:
        g = m["g"]
        assert g["probability"] >= 0.999 and g["actor"] == "system:steward-test"
        assert [e[0] for e in json.loads(g["evidence"])][:2] == ["name", "dob"]


def test_undo_restores_both_and_the_pair_is_never_proposed_again(container, workspace, loaded, service, system):
    report = service.run(system)
    assert report.merge_ids
    merge_id = report.merge_ids[0]
    info = service.explain(system, merge_id=merge_id)
    winner, loser = info["winner"], info["loser"]
    assert info["evidence"] and info["probability"] >= 0.999
    service.unmerge(system, merge_id=merge_id)
    # Undone through the generic ledger path (`veil profiles unmerge`), it is not re-merged either.
    other = service.explain(system, merge_id=report.merge_ids[1]) if len(report.merge_ids) > 1 else None
    if other is not None:
        assert container.profiles.undo_merge(workspace=workspace, merge_id=other["id"], actor="test") is not None
    status = {r["id"]: r["s"] for r in cypher(container, "MATCH (p:Profile) WHERE p.id IN $ids "
                                                         "RETURN p.id AS id, p.status AS s", ids=[winner, loser])}
    assert status == {winner: "active", loser: "active"}
    assert cypher(container, "MATCH (:Identifier)-[:IDENTIFIES]->(p:Profile {id: $id}) RETURN count(*) AS n",
                  id=loser)[0]["n"] >= 1
    again = service.run(system)
    assert _root(container, workspace, loser) != _root(container, workspace, winner)
    assert not any({c.left, c.right} == {winner, loser} for c in _queued(service, system))
    if other is not None:
        assert _root(container, workspace, other["loser"]) != _root(container, workspace, other["winner"])
    assert again.run_id != report.run_id
    with pytest.raises(VeilError) as exc:
        service.unmerge(system, merge_id=merge_id)
    assert exc.value.code == "merge_not_found"


def test_a_steward_approves_or_rejects_queued_pairs(container, workspace, loaded, service, system):
    service.set_thresholds(system, auto_merge=0.999999999, review=0.5)  # nearly everything goes to review
    service.run(system)
    items = _queued(service, system)
    assert len(items) >= 2
    first, second = items[0], items[1]
    merge_id = service.approve(system, candidate_id=first.id)
    assert _root(container, workspace, first.left) == _root(container, workspace, first.right)
    assert service.explain(system, merge_id=merge_id)["candidate"] == first.id
    service.reject(system, candidate_id=second.id)
    with pytest.raises(VeilError) as exc:
        service.reject(system, candidate_id=second.id)
    assert exc.value.code == "already_decided" and exc.value.status == 409
    service.run(system)
    assert not any(c.id == second.id for c in _queued(service, system))
    assert [c.id for c in service.review_items(system, status="rejected")] == [second.id]
    with pytest.raises(VeilError) as missing:
        service.approve(system, candidate_id="no-such-item")
    assert missing.value.code == "candidate_not_found" and missing.value.status == 404


def test_incremental_run_scores_only_new_profiles_against_everyone(container, workspace, loaded, service,
                                                                    system):
    service.run(system)
    late = ("web-ming", {"name": "Wang Xiaoming", "birthday": "1985-03-07", "home_phone": "0912-345-678",
                         "address": "台北市中山路100號5樓", "city": "台北市"})
    container.ingest.ingest(_events([late]), workspace=workspace, source="web")
    new = _pid(container, workspace, "web-ming")
    report = service.run(system, incremental=True)
    assert report.mode == "incremental"
    assert _linked(container, workspace, service, system, new, loaded["crm-ming"]) in ("merged", "queued")


def test_restricted_people_are_not_matched_and_restriction_follows_a_merge(container, workspace, loaded,
                                                                            service, system):
    pos = loaded["pos-ming"]
    cypher(container, "MATCH (p:Profile {id: $id}) SET p.restricted = true", id=pos)
    service.set_thresholds(system, auto_merge=0.999999999, review=0.5)
    service.run(system)
    assert all(pos not in (c.left, c.right) for c in _queued(service, system))
    cypher(container, "MATCH (p:Profile {id: $id}) SET p.restricted = false", id=pos)
    # A restriction set after queueing travels with the merge and survives the undo on both sides.
    service.run(system)
    item = next(c for c in _queued(service, system) if pos in (c.left, c.right))
    other = item.right if item.left == pos else item.left
    cypher(container, "MATCH (p:Profile {id: $id}) SET p.restricted = true", id=pos)
    merge_id = service.approve(system, candidate_id=item.id)
    flags = {r["id"]: r["r"] for r in cypher(container, "MATCH (p:Profile) WHERE p.id IN $ids "
                                                        "RETURN p.id AS id, p.restricted AS r", ids=[pos, other])}
    assert flags[min(pos, other)] is True
    service.unmerge(system, merge_id=merge_id)
    flags = {r["id"]: r["r"] for r in cypher(container, "MATCH (p:Profile) WHERE p.id IN $ids "
                                                        "RETURN p.id AS id, p.restricted AS r", ids=[pos, other])}
    assert flags[pos] is True


def test_runs_and_merges_are_audited_without_values(container, workspace, loaded, service, system):
    service.run(system)
    rows = [r["a"] for r in cypher(container, "MATCH (a:AuditRecord {workspace: $w}) WHERE a.resource STARTS WITH "
                                              "'identity' RETURN a {.*} AS a", w=workspace)]
    resources = {r["resource"] for r in rows}
    assert {"identity.matching", "identity.merge"} <= resources
    assert all(r["actor"] == "system:steward-test" and r["purpose"] == "identity_resolution" for r in rows)
    dump = json.dumps(rows, default=str, ensure_ascii=False)
    # Whole values (a bare "0912" also turns up by chance in the records' hex hashes and ids).
    for value in ("王小明", "Hsiao", "xiaoming", "0912-345", "912345678", "彌敦道", "1985-03-07"):
        assert value not in dump


def test_matching_never_crosses_workspaces(container, workspace, loaded, service, system):
    other_ws = workspace + "-b"
    container.ingest.ingest(_events([("twin", dict(PLANTED[0][1], email="twin@example.com"))]),
                            workspace=other_ws, source="crm")
    twin = _pid(container, other_ws, "twin")
    service.set_thresholds(system, auto_merge=0.999999999, review=0.01)
    service.run(system)
    assert all(twin not in (c.left, c.right) for c in _queued(service, system))
    assert cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.status AS s", id=twin)[0]["s"] == "active"
