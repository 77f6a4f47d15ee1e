"""GraphQL for identity resolution: admins run matching and work the review queue; others are refused."""

from __future__ import annotations

from tests.api.test_graphql import codes, gql, key
from tests.resolution.test_matching_graph import PLANTED, _background, _events

QUEUE = "{ matchReviewQueue(first: 5) { id left right probability status evidence { comparison level weight } } }"


def test_admin_runs_matching_and_decides_pairs_others_are_forbidden(container, client, workspace):
    r = container.ingest.ingest(_events(PLANTED + _background(100)), workspace=workspace, source="crm")
    assert not r.rejected
    admin, support = key(container, workspace, "admin"), key(container, workspace, "support_agent")

    denied = gql(client, QUEUE, token=support)
    assert codes(denied) == ["FORBIDDEN"]

    bad = gql(client, "mutation { setMatchThresholds(autoMerge: 0.5, review: 0.9) { autoMerge } }", token=admin)
    assert codes(bad) == ["BAD_REQUEST"]
    ok = gql(client, "mutation { setMatchThresholds(autoMerge: 0.999, review: 0.6) { autoMerge review } }",
             token=admin)
    assert ok.json()["data"]["setMatchThresholds"] == {"autoMerge": 0.999, "review": 0.6}

    ran = gql(client, "mutation { runMatching { runId mode profiles merged queued } }", token=admin)
    run = ran.json()["data"]["runMatching"]
    assert run["mode"] == "full" and run["profiles"] >= 80

    items = gql(client, QUEUE, token=admin).json()["data"]["matchReviewQueue"]
    assert items and items[0]["evidence"][0]["comparison"] == "name"
    rejected = gql(client, "mutation($id: ID!) { rejectMatch(id: $id) }", token=admin,
                   variables={"id": items[0]["id"]})
    assert rejected.json()["data"]["rejectMatch"] is True
    again = gql(client, "mutation($id: ID!) { rejectMatch(id: $id) }", token=admin, variables={"id": items[0]["id"]})
    assert codes(again) == ["CONFLICT"]
    missing = gql(client, '{ mergeEvidence(mergeId: "nope") { mergeId } }', token=admin)
    assert codes(missing) == ["NOT_FOUND"]


def test_scheduled_matching_is_off_by_default_and_runs_incrementally_when_set(container, workspace):
    from api.identity_wiring import identity_jobs
    from resolution.settings import ResolutionSettings

    assert [j.interval for j in identity_jobs(container)] == [0]
    job = identity_jobs(container, ResolutionSettings(interval_seconds=3600))[0]
    assert job.name == "identity-matching" and job.interval == 3600 and callable(job.run)
