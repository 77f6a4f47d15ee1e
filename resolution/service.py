"""The matching job and the review queue, behind the access pipeline and the audit trail.

Every call takes the caller's principal and authorizes it first (casbin resource `identity`;
system jobs and the CLI run with the operator's rights). Profiles are read through the
`ProfileReader` (the one place sealed values are opened) and only into memory; the DuckDB of
the job is in memory too. The run, each merge, each decision and each undo is audited with the
actor and ids, counts and comparison names as evidence, never values.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from access.admin import principal_event
from access.principal import Principal
from audit.events import AuditAction, Decision
from audit.service import AuditService
from collect.rules import IdentityRules
from core.errors import Conflict, NotFoundError
from core.guard import GuardPort
from graph.profiles import ProfileRecord
from graph.resolution import (
    Candidate,
    MergeEvidence,
    MergeRequest,
    MergeResult,
    ResolutionRepository,
    pair_key,
)
from privacy.reader import ProfileReader
from resolution.decide import Outcome, Thresholds, conflicts, decide
from resolution.features import row_from_profile
from resolution.model import MatchingError, MatchModel, ScoredPair
from resolution.settings import ResolutionSettings

RESOURCE = "identity"
PURPOSE = "identity_resolution"
STATUSES = ("pending", "merged", "rejected", "blocked")
MERGE_BATCH = 500  # merges per transaction (and per audit write)


class CandidateNotFound(NotFoundError):
    """No such review item in the caller's workspace."""

    code = "candidate_not_found"


class MergeNotFound(NotFoundError):
    """No such merge in the caller's workspace, or it cannot be undone (undone already, erased)."""

    code = "merge_not_found"


class AlreadyDecided(Conflict):
    """The review item was decided before."""

    code = "already_decided"


class MergeBlocked(Conflict):
    """The merge is not possible (a profile is gone, or an identifier limit forbids it)."""

    code = "merge_blocked"


@dataclass(frozen=True)
class RunReport:
    """What one matching run did."""

    run_id: str
    mode: str
    profiles: int
    pairs: int
    merged: int
    queued: int
    blocked: int
    seconds: float
    merge_ids: tuple[str, ...]


class _Roots:
    """Union-find over profile ids: merges within one run chain onto the surviving profile."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        while x in self.parent:
            x = self.parent[x]
        return x


class ResolutionService:
    """Runs matching and serves the review queue for one process."""

    def __init__(self, *, repo: ResolutionRepository, reader: ProfileReader, guard: GuardPort,
                 audit: AuditService, rules: IdentityRules, settings: ResolutionSettings | None = None) -> None:
        self.repo = repo
        self.reader = reader
        self.guard = guard
        self.audit = audit
        self.rules = rules
        self.settings = settings or ResolutionSettings()

    # --- guard and audit -------------------------------------------------------------------------

    def _require(self, principal: Principal, action: str, *, subject: str | None = None) -> None:
        # Every caller (GraphQL, the CLI's operator, the scheduler) is authorized by the one guard;
        # the allowed action is audited by the method with what it did.
        self.guard.require(principal, RESOURCE, action, subject=subject, audit_allow=False)
        self.repo.ensure_schema()

    def _audit(self, principal: Principal, *, action: AuditAction, resource: str, reason: str,
               subject: str | None = None, decision: Decision = Decision.ALLOW, fields: tuple[str, ...] = (),
               extra: dict[str, Any] | None = None) -> None:
        self.audit.record(principal_event(principal, action=action, resource=resource, subject=subject,
                                          decision=decision, reason=reason, purpose=PURPOSE, fields=fields,
                                          extra=extra))

    # --- settings --------------------------------------------------------------------------------

    def thresholds(self, principal: Principal) -> Thresholds:
        """The workspace's thresholds (its own, else the defaults)."""
        self._require(principal, "read")
        return self._thresholds(principal.workspace)

    def _thresholds(self, workspace: str) -> Thresholds:
        cfg = self.repo.config(workspace=workspace)
        return Thresholds(auto_merge=cfg.get("auto_merge") or self.settings.auto_merge_threshold,
                          review=cfg.get("review") or self.settings.review_threshold)

    def set_thresholds(self, principal: Principal, *, auto_merge: float, review: float) -> Thresholds:
        """Set the workspace's two thresholds (validated), audited."""
        self._require(principal, "write")
        th = Thresholds(auto_merge=auto_merge, review=review)
        self._audit(principal, action=AuditAction.POLICY_CHANGE, resource="identity.thresholds",
                    reason="thresholds_set", extra={"auto_merge": str(auto_merge), "review": str(review)})
        self.repo.set_thresholds(workspace=principal.workspace, auto_merge=auto_merge, review=review,
                                 actor=principal.id)
        return th

    # --- the job ---------------------------------------------------------------------------------

    def _profiles(self, workspace: str) -> Iterator[ProfileRecord]:
        # Restricted people (a data-subject request) are not processed; erased ones are not active.
        for p in self.reader.iter_profiles(workspace=workspace, page_size=self.settings.page_size):
            if p.status == "active" and not p.restricted:
                yield p

    def run(self, principal: Principal, *, incremental: bool = False) -> RunReport:
        """Match the workspace's profiles (or those written since the last run), merge and queue."""
        self._require(principal, "write")
        ws = principal.workspace
        run_id = str(uuid.uuid4())
        started, t0 = datetime.now(UTC), time.perf_counter()
        cfg = self.repo.config(workspace=ws)
        mode = "incremental" if incremental and cfg.get("model") and cfg.get("last_run_at") else "full"
        touched = self.repo.touched_since(workspace=ws, since=cfg["last_run_at"]) if mode == "incremental" else []
        self._audit(principal, action=AuditAction.READ, resource="identity.matching", reason="matching_run_started",
                    fields=("traits", "identifiers"), extra={"run_id": run_id, "mode": mode})
        seen: set[str] = set()
        rows = []
        for p in self._profiles(ws):
            seen.add(p.id)
            rows.append(row_from_profile(p.id, p.traits, p.identifiers, region=self.settings.default_region))
        th = self._thresholds(ws)
        model_json: str | None = None
        if mode == "incremental":
            model = MatchModel(rows, model_json=cfg["model"], threads=self.settings.duckdb_threads)
            pairs = model.predict_for([t for t in touched if t in seen], threshold=th.review)
        else:
            model = MatchModel(rows, threads=self.settings.duckdb_threads)
            model.train(u_pairs=self.settings.u_sample_pairs, em_pairs=self.settings.em_max_pairs)
            model_json = model.to_json()
            pairs = model.predict(threshold=th.review)
        del rows
        applied = self._apply(principal, run_id=run_id, pairs=pairs, thresholds=th)
        merge_ids: list[str] = applied.pop("merge_ids")
        counts = {"profiles": len(seen), "pairs": len(pairs), **applied}
        self.repo.save_run(workspace=ws, run_id=run_id, mode=mode, actor=principal.id, started=started,
                           model=model_json, counts=counts)
        self._audit(principal, action=AuditAction.WRITE, resource="identity.matching", reason="matching_run_finished",
                    extra={"run_id": run_id, "mode": mode, **{k: int(v) for k, v in counts.items()}})
        return RunReport(run_id=run_id, mode=mode, profiles=counts["profiles"], pairs=counts["pairs"],
                         merged=counts["merged"], queued=counts["queued"], blocked=counts["blocked"],
                         seconds=round(time.perf_counter() - t0, 2), merge_ids=tuple(merge_ids))

    def _apply(self, principal: Principal, *, run_id: str, pairs: list[ScoredPair],
               thresholds: Thresholds) -> dict[str, Any]:
        ws = principal.workspace
        decided = self.repo.decided_pairs(workspace=ws)
        roots = _Roots()
        merged: list[str] = []
        queue: list[dict[str, Any]] = []
        review: list[ScoredPair] = []
        batch: list[ScoredPair] = []
        blocked = 0

        def flush() -> None:
            nonlocal blocked
            todo = [p for p in batch if roots.find(p.left) != roots.find(p.right)]
            batch.clear()
            reqs = [(p, roots.find(p.left), roots.find(p.right)) for p in todo]
            for pair, result in zip(todo, self._merge_many(principal, run_id=run_id, reqs=reqs, candidate=None),
                                    strict=True):
                if result.reason is None:
                    roots.parent[result.loser] = result.winner
                    merged.append(result.merge_id)
                elif result.reason != "not_active":
                    blocked += 1
                    queue.append(self._queue_row(ws, pair, reason=result.reason))

        # A rejected (or undone) pair must not end up in one profile through a third one either:
        # clusters planned in this run are checked against these cannot-link pairs.
        # Pairs are mapped to the profiles they live in now (a side may sit merged in another one).
        ends = [tuple(key.rsplit("|", 2)[1:]) for key in decided]
        now_in = self.repo.roots(workspace=ws, ids=sorted({x for e in ends for x in e})) if ends else {}
        cannot: dict[str, set[str]] = {}
        for a0, b0 in ends:
            a, b = now_in.get(a0, a0), now_in.get(b0, b0)
            if a != b:
                cannot.setdefault(a, set()).add(b)
                cannot.setdefault(b, set()).add(a)
        plan = _Roots()
        members: dict[str, set[str]] = {}

        for pair in sorted(pairs, key=lambda p: -p.probability):
            if pair_key(ws, pair.left, pair.right) in decided:
                continue  # rejected (or merged and undone) pairs are never proposed again
            outcome = decide(pair, thresholds)
            if outcome is Outcome.MERGE:
                ra, rb = plan.find(pair.left), plan.find(pair.right)
                if ra == rb:
                    continue
                ca, cb = members.get(ra, {ra}), members.get(rb, {rb})
                if any(cannot.get(x, set()) & cb for x in ca):
                    blocked += 1
                    queue.append(self._queue_row(ws, pair, reason="rejected_pair_in_cluster"))
                    continue
                plan.parent[rb] = ra
                members[ra] = ca | cb
                batch.append(pair)
                if len(batch) >= MERGE_BATCH:
                    flush()
            elif outcome is Outcome.REVIEW:
                review.append(pair)
        flush()
        queue += [self._queue_row(ws, p) for p in review if roots.find(p.left) != roots.find(p.right)]
        self.repo.queue(workspace=ws, run_id=run_id, rows=queue)
        return {"merged": len(merged), "queued": len(queue), "blocked": blocked, "merge_ids": merged}

    def _queue_row(self, workspace: str, pair: ScoredPair, *, reason: str | None = None) -> dict[str, Any]:
        found = conflicts(pair) + ([reason] if reason else [])
        return {"key": pair_key(workspace, pair.left, pair.right), "id": str(uuid.uuid4()), "left": pair.left,
                "right": pair.right, "probability": pair.probability, "weight": pair.weight,
                "evidence": pair.evidence_json(), "conflicts": found}

    def _merge_many(self, principal: Principal, *, run_id: str, reqs: list[tuple[ScoredPair | Candidate, str, str]],
                    candidate: str | None) -> list[MergeResult]:
        """Merge pairs of current roots in one transaction; audit each outcome in one audit write."""
        if not reqs:
            return []
        limits = {t: self.rules.get(t).max_per_profile or 0 for t in self.rules.limited_types}
        requests = [MergeRequest(merge_id=str(uuid.uuid4()), a=a, b=b, evidence=MergeEvidence(
            probability=p.probability, weight=p.weight,
            evidence=p.evidence_json() if isinstance(p, ScoredPair) else _json(p.evidence),
            candidate=candidate, actor=principal.id)) for p, a, b in reqs]
        results = self.repo.merge_batch(workspace=principal.workspace, run_id=run_id, requests=requests,
                                        limits=limits)
        events = []
        for (pair, _, _), r in zip(reqs, results, strict=True):
            names = tuple(f"evidence.{e[0]}" if isinstance(e, list) else f"evidence.{e.comparison}"
                          for e in pair.evidence)
            events.append(principal_event(
                principal, action=AuditAction.WRITE, resource="identity.merge", subject=r.winner,
                decision=Decision.ALLOW if r.reason is None else Decision.DENY,
                reason="merged" if r.reason is None else r.reason.replace(":", "."), purpose=PURPOSE, fields=names,
                extra={"merge_id": r.merge_id, "loser": r.loser, "run_id": run_id,
                       "probability": f"{pair.probability:.6f}", "match_weight": f"{pair.weight:.3f}",
                       "candidate": candidate, "auto": candidate is None}))
        self.audit.record_many(events)
        return results

    # --- review queue ----------------------------------------------------------------------------

    def review_items(self, principal: Principal, *, status: str = "pending", limit: int = 50) -> list[Candidate]:
        """Review items by status, most probable first (ids, probabilities and evidence labels only)."""
        self._require(principal, "read")
        if status not in STATUSES:
            raise MatchingError(f"status must be one of {', '.join(STATUSES)}", field="status",
                                code="invalid_status")
        if not 1 <= limit <= 1000:
            raise MatchingError("limit must be between 1 and 1000", field="limit", code="invalid_limit")
        items = self.repo.candidates(workspace=principal.workspace, status=status, limit=limit)
        self._audit(principal, action=AuditAction.READ, resource="identity.review", reason="listed",
                    extra={"status": status, "count": len(items)})
        return items

    def _pending(self, principal: Principal, candidate_id: str) -> Candidate:
        c = self.repo.candidate(workspace=principal.workspace, candidate_id=candidate_id)
        if c is None:
            raise CandidateNotFound(f"review item {candidate_id} not found", field="id")
        if c.status != "pending":
            raise AlreadyDecided(f"review item {candidate_id} is already {c.status}", field="id")
        return c

    def approve(self, principal: Principal, *, candidate_id: str) -> str:
        """A steward accepts a pair: the two profiles merge (with the pair's evidence); the merge id."""
        self._require(principal, "write", subject=candidate_id)
        c = self._pending(principal, candidate_id)
        roots = self.repo.roots(workspace=principal.workspace, ids=[c.left, c.right])
        ra, rb = roots.get(c.left, c.left), roots.get(c.right, c.right)
        if ra == rb:  # merged meanwhile (another pair, or a shared identifier)
            self.repo.decide(workspace=principal.workspace, candidate_id=c.id, status="merged", actor=principal.id,
                             reason="already_one_profile")
            raise AlreadyDecided("the two profiles are already one profile", field="id")
        result = self._merge_many(principal, run_id="review", reqs=[(c, ra, rb)], candidate=c.id)[0]
        merge_id, why = result.merge_id, result.reason
        if why is not None:
            self.repo.decide(workspace=principal.workspace, candidate_id=c.id, status="blocked",
                             actor=principal.id, reason=why)
            raise MergeBlocked(f"the profiles cannot merge: {why}", field="id")
        self.repo.decide(workspace=principal.workspace, candidate_id=c.id, status="merged", actor=principal.id,
                         merge_id=merge_id)
        return merge_id

    def reject(self, principal: Principal, *, candidate_id: str, reason: str | None = None) -> None:
        """A steward rejects a pair: it is remembered and never proposed again."""
        self._require(principal, "write", subject=candidate_id)
        c = self._pending(principal, candidate_id)
        self._audit(principal, action=AuditAction.WRITE, resource="identity.review", subject=c.left,
                    reason="rejected", extra={"candidate": c.id, "other": c.right})
        self.repo.decide(workspace=principal.workspace, candidate_id=c.id, status="rejected", actor=principal.id,
                         reason="steward")

    def explain(self, principal: Principal, *, merge_id: str) -> dict[str, Any]:
        """A merge's evidence: probability, weight and each comparison's level and weight."""
        self._require(principal, "read", subject=merge_id)
        info = self.repo.merge_info(workspace=principal.workspace, merge_id=merge_id)
        if info is None:
            raise MergeNotFound(f"merge {merge_id} not found", field="merge_id")
        self._audit(principal, action=AuditAction.READ, resource="identity.merge", subject=info["winner"],
                    reason="explained", extra={"merge_id": merge_id})
        return info

    def unmerge(self, principal: Principal, *, merge_id: str) -> int:
        """Undo a merge with the ledger's machinery; a probabilistic pair is then never proposed again."""
        self._require(principal, "write", subject=merge_id)
        ws = principal.workspace
        info = self.repo.merge_info(workspace=ws, merge_id=merge_id)
        if info is None:
            raise MergeNotFound(f"merge {merge_id} not found", field="merge_id")
        self._audit(principal, action=AuditAction.WRITE, resource="identity.unmerge", subject=info["winner"],
                    reason="unmerge_requested", extra={"merge_id": merge_id, "loser": info["loser"]})
        moved = self.reader.undo_merge(workspace=ws, merge_id=merge_id, actor=principal.id)
        if moved is None:
            raise MergeNotFound(f"merge {merge_id} cannot be undone (undone already, or erased)", field="merge_id")
        if info.get("rule") == "probabilistic":
            self.repo.after_undo(workspace=ws, merge_id=merge_id)
            self.repo.reject_pair(workspace=ws, left=info["winner"], right=info["loser"], actor=principal.id,
                                  reason="unmerged", merge_id=merge_id,
                                  probability=float(info.get("probability") or 0.0),
                                  weight=float(info.get("match_weight") or 0.0),
                                  evidence=_json(info.get("evidence") or []))
        self._audit(principal, action=AuditAction.WRITE, resource="identity.unmerge", subject=info["winner"],
                    reason="unmerged", extra={"merge_id": merge_id, "moved_interactions": int(moved)})
        return int(moved)


def _json(evidence: list[Any]) -> str:
    import json

    return json.dumps(evidence, ensure_ascii=False)
