"""Erasure by crypto-shredding: the right to be forgotten, including in old backups.

Call it as

    erase_profile(vault=..., repo=..., audit=..., suppress=True,
                  workspace="demo", profile_id="<any profile id of the person>",
                  actor="<principal id>", reason="<case reference, no personal data>")

and get an `ErasureReport`. Steps, in this order:

1. Find the person: the root profile the id belongs to and every profile merged into it.
2. Audit the request (pseudonymous profile id only); if the trail is down, nothing happens.
3. Delete the data keys of every profile of the cluster from the key store (and this process's
   cache). Every value sealed under them, in the live graph and in any copy of it, can no longer
   be decrypted. This is the step that cannot be undone.
4. Purge the live graph: identifiers (their blind indexes go to the suppression list first, when
   suppression is on), interactions, segment memberships, trait properties, merge snapshots and
   conflict keys; the profiles stay as `status: 'erased'` tombstones.
5. Audit the outcome with the counts.

Running it again on an erased person is safe (it finishes an interrupted purge).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from audit.events import AuditAction, AuditEvent, Decision
from audit.service import AuditService
from core.errors import VeilError
from graph.erasure import ErasureRepository
from privacy.vault import FieldVault

# The reason is a case reference (e.g. DSR-2026-0042 or gdpr_art17): it goes into the audit trail,
# which holds ids and codes only, never personal data.
REASON = re.compile(r"[A-Za-z0-9_.:/+=,\-]{1,100}")
DSR_REASON = re.compile(r"dsr:dsr-[0-9a-f]{16}")


class ProfileNotFound(VeilError, LookupError):
    """No such profile in this workspace (another tenant's profile looks the same)."""

    code = "not_found"
    status = 404


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure did."""

    profile_id: str  # the root profile of the erased cluster
    profiles_erased: int
    keys_shredded: int
    identifiers_deleted: int
    identifiers_suppressed: int
    interactions_deleted: int
    segment_memberships_removed: int
    merges_scrubbed: int
    conflicts_scrubbed: int
    already_erased: bool

    def as_dict(self) -> dict[str, int | str | bool]:
        """Plain dict (for JSON and audit extras)."""
        return asdict(self)


def erase_profile(*, vault: FieldVault, repo: ErasureRepository, audit: AuditService, suppress: bool,
                  workspace: str, profile_id: str, actor: str, reason: str,
                  actor_kind: str = "user") -> ErasureReport:
    """Crypto-shred a person (their whole merged cluster) and purge their data from the live graph."""
    reason = reason.strip()
    generated = DSR_REASON.fullmatch(reason) is not None  # a Veil case id: random hex, not personal data
    if not REASON.fullmatch(reason) or "@" in reason or (not generated and re.search(r"\d{7,}", reason)):
        raise ValueError("reason must be a case reference of 1-100 letters, digits or _.:/+=,- "
                         "(e.g. DSR-2026-0042), never personal data")
    cluster = repo.cluster(workspace=workspace, profile_id=profile_id)
    if cluster is None:
        raise ProfileNotFound(profile_id)
    already = cluster.status == "erased"

    def event(outcome: str, **extra: int | str | bool) -> AuditEvent:
        return AuditEvent.create(
            workspace=workspace, actor=actor, actor_kind=actor_kind, action=AuditAction.DSR,
            resource="profile.erasure", subject=cluster.root, decision=Decision.ALLOW, reason=outcome,
            extra={"requested_for": profile_id, "reason": reason, **extra})

    audit.record(event("erasure_started", profiles=len(cluster.profile_ids)))
    shredded = vault.shred(cluster.profile_ids)
    counts = repo.purge(workspace=workspace, cluster=cluster, suppress=suppress)
    report = ErasureReport(
        profile_id=cluster.root, profiles_erased=len(cluster.profile_ids), keys_shredded=shredded,
        identifiers_deleted=counts.identifiers,
        identifiers_suppressed=len(cluster.identifier_keys) if suppress else 0,
        interactions_deleted=counts.interactions, segment_memberships_removed=counts.memberships,
        merges_scrubbed=counts.merges, conflicts_scrubbed=counts.conflicts, already_erased=already)
    audit.record(event("erased", **{k: v for k, v in report.as_dict().items() if k != "profile_id"}))
    return report
