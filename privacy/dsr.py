"""Data-subject requests as tracked cases: access/export, erasure, rectification, restriction of
processing and objection to marketing.

States: received -> verified -> approved -> running -> done | failed. Any open case may also
be closed as failed (e.g. the requester's identity could not be verified). Advancing an
approved case runs it: `running` is recorded, the work is done, then `done` or `failed`.
Every step is authorized (casbin resource `dsr`; the CLI acts as the system) and audited
(action `dsr`, subject = the profile id, which is pseudonymous) before it takes effect.

Erasure is delegated to `privacy.erasure.erase_profile` (crypto-shredding), which the container
injects with its dependencies bound.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import structlog

from audit.events import AuditAction, Decision, field_ref
from audit.service import AuditService
from consent.model import Channel, ConsentRecord, ConsentStatus, Jurisdiction, LawfulBasis, Purpose
from core.errors import VeilError
from core.guard import GuardPort
from core.principal import Principal
from core.traits import TraitError, validate_traits
from graph.consents import ConsentRepository
from graph.dsr import DsrCaseRecord, DsrRepository
from privacy.dsr_export import AUDIT_LIMIT, build_package, write_package
from privacy.reader import ProfileReader
from privacy.vault import FieldVault

log = structlog.get_logger("veil.dsr")
SEALED_CHANGES = "__sealed__"


class TraitEditor(Protocol):
    """What a rectification needs (collect.traits.TraitService)."""

    vault: FieldVault

    def update(self, *, workspace: str, profile_id: str, traits: dict[str, Any], actor: str) -> bool:
        """Set traits with provenance; False when the profile is gone."""
        ...


ErasureRunner = Callable[..., Any]  # (*, workspace, profile_id, actor, reason) -> ErasureReport


class DsrKind(StrEnum):
    """What the person asked for."""

    ACCESS = "access"  # access / export (portability)
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"  # objection to direct marketing


class DsrState(StrEnum):
    """Where a case is."""

    RECEIVED = "received"
    VERIFIED = "verified"
    APPROVED = "approved"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[DsrState, frozenset[DsrState]] = {
    DsrState.RECEIVED: frozenset({DsrState.VERIFIED, DsrState.FAILED}),
    DsrState.VERIFIED: frozenset({DsrState.APPROVED, DsrState.FAILED}),
    DsrState.APPROVED: frozenset({DsrState.RUNNING, DsrState.FAILED}),
    DsrState.RUNNING: frozenset({DsrState.FAILED}),  # done only by the run itself
    DsrState.DONE: frozenset(),
    DsrState.FAILED: frozenset(),
}
NEXT: dict[DsrState, DsrState] = {DsrState.RECEIVED: DsrState.VERIFIED, DsrState.VERIFIED: DsrState.APPROVED,
                                  DsrState.APPROVED: DsrState.RUNNING}
CLOSED = (DsrState.DONE, DsrState.FAILED)


class DsrError(VeilError, ValueError):
    """A request that cannot be honoured as asked; `code` is stable."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _report(value: Any) -> dict[str, Any]:
    """An erasure report as a small JSON-able summary (counts and ids, no values)."""
    data = asdict(value) if is_dataclass(value) and not isinstance(value, type) else (
        dict(value) if isinstance(value, Mapping) else {"report": str(value)})
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in data.items()}


class DsrService:
    """Creates, lists and advances cases; runs them when approved."""

    def __init__(self, *, repo: DsrRepository, guard: GuardPort, profiles: ProfileReader,
                 consents: ConsentRepository, audit: AuditService, jurisdiction: Jurisdiction,
                 traits: TraitEditor, export_dir: Path,
                 deadline_days: int = 30, erasure: ErasureRunner | None = None) -> None:
        self.repo = repo
        self.guard = guard
        self.profiles = profiles
        self.consents = consents
        self.audit = audit
        self.jurisdiction = jurisdiction
        self.traits = traits
        self.export_dir = export_dir
        self.deadline_days = deadline_days
        self.erasure = erasure

    # --- authorization and audit -------------------------------------------------------------

    def _audit(self, principal: Principal, *, resource: str, subject: str | None, reason: str,
               action: AuditAction = AuditAction.DSR, decision: Decision = Decision.ALLOW,
               fields: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
               consent_record_id: str | None = None) -> None:
        self.guard.record(principal, action=action, resource=resource, subject=subject, decision=decision,
                          reason=reason, purpose=Purpose.legal_obligation.value,
                          lawful_basis=LawfulBasis.legal_obligation.value, returned=fields, extra=extra,
                          consent_record_id=consent_record_id, immediate=True)

    def _require(self, principal: Principal, action: str, *, subject: str | None = None) -> None:
        # Every caller, the CLI's operator and jobs included, is authorized by the one guard.
        self.guard.require(principal, "dsr", action, subject=subject, audit_allow=False,
                           audit_action=AuditAction.DSR)

    # --- cases ---------------------------------------------------------------------------------

    def create(self, *, principal: Principal, kind: str, profile_id: str | None = None,
               identifier: tuple[str, str] | None = None, changes: Any = None,
               received_at: datetime | None = None) -> DsrCaseRecord:
        """Open a case for a person (by profile id or identifier); the deadline runs from receipt."""
        self._require(principal, "write", subject=profile_id)
        try:
            k = DsrKind(kind)
        except ValueError as exc:
            raise DsrError("invalid_kind", f"kind must be one of {', '.join(x.value for x in DsrKind)}") from exc
        if k is DsrKind.RECTIFICATION:
            try:
                changes = validate_traits(changes)
            except TraitError as exc:
                raise DsrError("invalid_changes", f"rectification needs the corrected traits: {exc}") from exc
        elif changes is not None:
            raise DsrError("invalid_changes", "only a rectification carries changes")
        ws = principal.workspace
        profiles = self.profiles
        if identifier is not None:
            profile = profiles.find_by_identifier(workspace=ws, kind=identifier[0], value=identifier[1])
        else:
            profile = profiles.get_profile(workspace=ws, profile_id=profile_id or "")
        if profile is None or profile.status != "active":
            raise DsrError("subject_not_found", "no such person in this workspace")
        received = (received_at or datetime.now(UTC)).astimezone(UTC)
        case_id = f"dsr-{uuid.uuid4().hex[:16]}"
        self._audit(principal, resource=f"dsr.{k.value}", subject=profile.id, reason=DsrState.RECEIVED.value,
                    fields=tuple(field_ref("traits", n) for n in sorted(changes or {})),
                    extra={"case_id": case_id, "kind": k.value, "to_state": DsrState.RECEIVED.value})
        return self.repo.create(id=case_id, workspace=ws, kind=k.value, subject=profile.id,
                                state=DsrState.RECEIVED.value, received_at=received,
                                due_at=received + timedelta(days=self.deadline_days), actor=principal.id,
                                changes=self._seal_changes(ws, profile.id, changes))

    def _seal_changes(self, workspace: str, profile_id: str, changes: dict[str, Any] | None) -> Any:
        """The corrected values are personal data: sealed under the person's data key while the
        case is open (so an erasure shreds them too), never plaintext in the graph."""
        vault = self.traits.vault
        if changes is None or not vault.enabled:
            return changes
        vault.prepare(workspace, [profile_id], create=True)
        return {SEALED_CHANGES: vault.seal(profile_id, changes)}

    def _open_changes(self, case: DsrCaseRecord) -> dict[str, Any]:
        changes = case.changes or {}
        if SEALED_CHANGES in changes:
            opened = self.traits.vault.open(changes[SEALED_CHANGES])
            if opened is None:
                raise DsrError("subject_not_found", "the person's data key is gone (erased)")
            return dict(opened)
        return dict(changes)

    def get(self, *, principal: Principal, case_id: str) -> DsrCaseRecord:
        """A case of the caller's workspace, or DsrError(case_not_found)."""
        self._require(principal, "read")
        case = self.repo.get(workspace=principal.workspace, case_id=case_id)
        if case is None:
            raise DsrError("case_not_found", f"no case {case_id} in this workspace")
        return case

    def cases(self, *, principal: Principal, state: str | None = None, kind: str | None = None,
              subject: str | None = None, overdue: bool = False, limit: int = 100) -> list[DsrCaseRecord]:
        """Cases of the workspace, newest first; `overdue` = past the deadline and still open."""
        self._require(principal, "read")
        for value, enum in ((state, DsrState), (kind, DsrKind)):
            if value is not None and value not in {e.value for e in enum}:
                raise DsrError("invalid_filter", f"unknown {enum.__name__[3:].lower()} {value!r}")
        rows = self.repo.find(workspace=principal.workspace, state=state, kind=kind, subject=subject,
                              overdue=overdue, now=datetime.now(UTC), limit=limit)
        self._audit(principal, resource="dsr", subject=subject, reason="listed", action=AuditAction.READ,
                    extra={"count": len(rows)})
        return rows

    def advance(self, *, principal: Principal, case_id: str, to: str | None = None) -> DsrCaseRecord:
        """Move a case on (to the next state by default); advancing to `running` runs it."""
        case = self.get(principal=principal, case_id=case_id)
        self._require(principal, "write", subject=case.subject)
        current = DsrState(case.state)
        if to is None:
            if current not in NEXT:
                raise DsrError("invalid_transition", f"case {case_id} is {current.value}; it cannot move on")
            target = NEXT[current]
        else:
            try:
                target = DsrState(to)
            except ValueError as exc:
                raise DsrError("invalid_state", f"state must be one of {', '.join(s.value for s in DsrState)}") from exc
        if target not in TRANSITIONS[current]:
            raise DsrError("invalid_transition", f"case {case_id} is {current.value}; it cannot go to "
                                                 f"{target.value} (allowed: "
                                                 f"{', '.join(sorted(s.value for s in TRANSITIONS[current])) or 'none'})")
        case = self._step(principal, case, target)
        if target is DsrState.RUNNING:
            case = self._run(principal, case)
        return case

    def _step(self, principal: Principal, case: DsrCaseRecord, target: DsrState, *,
              result: dict[str, Any] | None = None, decision: Decision = Decision.ALLOW) -> DsrCaseRecord:
        self._audit(principal, resource=f"dsr.{case.kind}", subject=case.subject, reason=target.value,
                    decision=decision, extra={"case_id": case.id, "kind": case.kind, "from_state": case.state,
                                              "to_state": target.value})
        moved = self.repo.transition(case=case, to=target.value, actor=principal.id, now=datetime.now(UTC),
                                     result=result, clear_changes=target in CLOSED)
        if moved is None:
            raise DsrError("conflict", f"case {case.id} changed meanwhile; read it again")
        return moved

    # --- running a case ------------------------------------------------------------------------

    def _run(self, principal: Principal, case: DsrCaseRecord) -> DsrCaseRecord:
        runner = {DsrKind.ACCESS: self._run_access, DsrKind.ERASURE: self._run_erasure,
                  DsrKind.RECTIFICATION: self._run_rectification, DsrKind.RESTRICTION: self._run_restriction,
                  DsrKind.OBJECTION: self._run_objection}[DsrKind(case.kind)]
        try:
            result = runner(principal, case)
        except DsrError as exc:
            return self._step(principal, case, DsrState.FAILED, result={"error": exc.code},
                              decision=Decision.ERROR)
        except Exception as exc:  # a failed run is recorded, never lost
            log.exception("dsr_run_failed", case_id=case.id, kind=case.kind, error=type(exc).__name__)
            return self._step(principal, case, DsrState.FAILED, result={"error": type(exc).__name__},
                              decision=Decision.ERROR)
        return self._step(principal, case, DsrState.DONE, result=result)

    def _profile(self, case: DsrCaseRecord) -> Any:
        profile = self.profiles.get_profile(workspace=case.workspace, profile_id=case.subject)
        if profile is None:
            raise DsrError("subject_not_found", "the person's profile no longer exists")
        return profile

    def _run_access(self, principal: Principal, case: DsrCaseRecord) -> dict[str, Any]:
        profile = self._profile(case)
        ids = self.repo.person_ids(workspace=case.workspace, profile_id=profile.id)
        self._audit(principal, resource="dsr.access", subject=profile.id, reason="export_package",
                    action=AuditAction.EXPORT, extra={"case_id": case.id})
        records = []
        for pid in ids:
            records += self.audit.repo.query(case.workspace, subject=pid, limit=AUDIT_LIMIT)
        consents = self.consents.for_subject(workspace=case.workspace, profile_id=profile.id)
        tables = build_package(case_id=case.id, workspace=case.workspace, profile=profile, sources=self.repo,
                               consents=consents, audit_records=records,
                               open_rows=self.profiles.open_rows)
        path = write_package(tables, case_id=case.id, directory=self.export_dir / case.workspace)
        return {"package": str(path), **{f"{k}_count": len(v) for k, v in tables.items() if isinstance(v, list)}}

    def _run_erasure(self, principal: Principal, case: DsrCaseRecord) -> dict[str, Any]:
        if self.erasure is None:
            raise DsrError("erasure_unavailable", "no erasure runner is configured for this service")
        report = self.erasure(workspace=case.workspace, profile_id=case.subject, actor=principal.id,
                              reason=f"dsr:{case.id}")
        return _report(report)

    def _run_rectification(self, principal: Principal, case: DsrCaseRecord) -> dict[str, Any]:
        changes = self._open_changes(case)
        names = tuple(field_ref("traits", n) for n in sorted(changes))
        self._audit(principal, resource="profile.traits", subject=case.subject, reason="rectified",
                    action=AuditAction.WRITE, fields=names, extra={"case_id": case.id})
        if not self.traits.update(workspace=case.workspace, profile_id=case.subject, traits=changes,
                                  actor=principal.id):
            raise DsrError("subject_not_found", "the person's profile no longer exists")
        return {"traits": list(names)}

    def _run_restriction(self, principal: Principal, case: DsrCaseRecord) -> dict[str, Any]:
        self._audit(principal, resource="profile.restriction", subject=case.subject, reason="restricted",
                    action=AuditAction.WRITE, extra={"case_id": case.id})
        if not self.repo.set_restricted(workspace=case.workspace, profile_id=case.subject, restricted=True,
                                        case_id=case.id, now=datetime.now(UTC)):
            raise DsrError("subject_not_found", "the person's profile no longer exists")
        return {"restricted": True}

    def _run_objection(self, principal: Principal, case: DsrCaseRecord) -> dict[str, Any]:
        self._profile(case)
        rec = ConsentRecord(
            id=str(uuid.uuid4()), subject=case.subject, purpose=Purpose.marketing, channel=Channel.any,
            status=ConsentStatus.denied, lawful_basis=LawfulBasis.consent, source="dsr",
            captured_at=datetime.now(UTC), jurisdiction=self.jurisdiction,
            evidence={"case_id": case.id, "actor": principal.id})
        self._audit(principal, resource="consent", subject=case.subject, reason="objection",
                    action=AuditAction.CONSENT_CHANGE, consent_record_id=rec.id, extra={"case_id": case.id})
        self.consents.append(workspace=case.workspace, records=[rec])
        return {"consent_record_id": rec.id}

    def package(self, *, principal: Principal, case_id: str) -> Path:
        """The export package of a finished access case (fetching it is audited)."""
        case = self.get(principal=principal, case_id=case_id)
        if case.kind != DsrKind.ACCESS.value or case.state != DsrState.DONE.value or not case.result:
            raise DsrError("no_package", f"case {case_id} is not a finished access request")
        path = Path(case.result["package"])
        if not path.exists():
            raise DsrError("no_package", f"the package of case {case_id} is no longer on this server")
        self._audit(principal, resource="dsr.access", subject=case.subject, reason="package_fetched",
                    action=AuditAction.EXPORT, extra={"case_id": case.id})
        return path
