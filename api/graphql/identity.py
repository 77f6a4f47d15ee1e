"""GraphQL for probabilistic identity resolution: the review queue, merge evidence, runs (admins).

Thin resolvers: the service authorizes (casbin resource `identity`) and audits every call.
Review items and evidence carry profile ids, probabilities and comparison labels, never values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.common import run
from api.identity_wiring import build_service
from graph.resolution import Candidate


async def _call(info: Info, method: str, **kwargs: Any) -> Any:
    # Domain errors (VeilError) leave through the one GraphQL error mapper with their status class.
    veil = info.context["veil"]
    return await run(getattr(build_service(veil.c), method), veil.principal, **kwargs)


@strawberry.type(description="One comparison's outcome for a pair: the level that applied and its match weight")
class MatchEvidence:
    comparison: str
    level: str
    weight: float


def _evidence(rows: list[Any]) -> list[MatchEvidence]:
    return [MatchEvidence(comparison=str(r[0]), level=str(r[1]), weight=float(r[2])) for r in rows]


@strawberry.type(description="A pair of profiles in the review queue (or decided)")
class MatchCandidate:
    id: strawberry.ID
    left: str
    right: str
    status: str
    probability: float
    weight: float
    evidence: list[MatchEvidence]
    conflicts: list[str] = strawberry.field(description="why it did not merge automatically")
    created_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    merge_id: str | None

    @staticmethod
    def of(c: Candidate) -> MatchCandidate:
        """From a repository record."""
        return MatchCandidate(id=strawberry.ID(c.id), left=c.left, right=c.right, status=c.status,
                              probability=c.probability, weight=c.weight, evidence=_evidence(c.evidence),
                              conflicts=c.conflicts, created_at=c.created_at, decided_by=c.decided_by,
                              decided_at=c.decided_at, merge_id=c.merge_id)


@strawberry.type(description="Why two profiles merged")
class MergeExplanation:
    merge_id: str
    winner: str
    loser: str
    rule: str
    probability: float | None
    weight: float | None
    evidence: list[MatchEvidence]
    actor: str | None
    candidate: str | None


@strawberry.type(description="What a matching run did")
class MatchRun:
    run_id: str
    mode: str
    profiles: int
    pairs: int
    merged: int
    queued: int
    blocked: int
    seconds: float


@strawberry.type(description="A workspace's match-probability thresholds")
class MatchThresholds:
    auto_merge: float
    review: float


@strawberry.type
class IdentityQueries:
    @strawberry.field(description="Pairs awaiting a steward (or decided ones by status), most probable first")
    async def match_review_queue(self, info: Info, status: str = "pending", first: int = 50) -> list[MatchCandidate]:
        return [MatchCandidate.of(c) for c in await _call(info, "review_items", status=status, limit=first)]

    @strawberry.field(description="The evidence of a merge: probability, weight and each comparison's level")
    async def merge_evidence(self, info: Info, merge_id: strawberry.ID) -> MergeExplanation:
        g = await _call(info, "explain", merge_id=str(merge_id))
        return MergeExplanation(merge_id=g["id"], winner=g["winner"], loser=g["loser"], rule=g["rule"],
                                probability=g.get("probability"), weight=g.get("match_weight"),
                                evidence=_evidence(g.get("evidence") or []), actor=g.get("actor"),
                                candidate=g.get("candidate"))

    @strawberry.field(description="The workspace's match-probability thresholds")
    async def match_thresholds(self, info: Info) -> MatchThresholds:
        th = await _call(info, "thresholds")
        return MatchThresholds(auto_merge=th.auto_merge, review=th.review)


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(description="Run probabilistic matching (incremental: profiles written since the last run)")
    async def run_matching(self, info: Info, incremental: bool = False) -> MatchRun:
        r = await _call(info, "run", incremental=incremental)
        return MatchRun(run_id=r.run_id, mode=r.mode, profiles=r.profiles, pairs=r.pairs, merged=r.merged,
                        queued=r.queued, blocked=r.blocked, seconds=r.seconds)

    @strawberry.mutation(description="Accept a queued pair: the profiles merge; returns the merge id")
    async def approve_match(self, info: Info, id: strawberry.ID) -> str:
        return str(await _call(info, "approve", candidate_id=str(id)))

    @strawberry.mutation(description="Reject a queued pair: it is never proposed again")
    async def reject_match(self, info: Info, id: strawberry.ID) -> bool:
        await _call(info, "reject", candidate_id=str(id))
        return True

    @strawberry.mutation(description="Undo a merge; a probabilistic pair is then remembered as rejected")
    async def unmerge_profiles(self, info: Info, merge_id: strawberry.ID) -> int:
        return int(await _call(info, "unmerge", merge_id=str(merge_id)))

    @strawberry.mutation(description="Set the workspace's two thresholds (auto-merge >= review)")
    async def set_match_thresholds(self, info: Info, auto_merge: float, review: float) -> MatchThresholds:
        th = await _call(info, "set_thresholds", auto_merge=auto_merge, review=review)
        return MatchThresholds(auto_merge=th.auto_merge, review=th.review)
