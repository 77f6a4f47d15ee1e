"""Encrypt a workspace written before field encryption (`veil keys encrypt-existing`).

Plain PII identifier keys become blind indexes (values sealed under the profile they identify),
plain PII trait values, interaction fields and merge snapshots get sealed, and the references
to identifier keys (interaction `ident`, merge `moved_identifiers`, conflict `identifier`) are
rewritten. Already sealed data is left as it is, so running it again is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph.upgrade import UpgradeRepository
from privacy.masking import IDENTIFIER_CATEGORIES, PiiCategory
from privacy.vault import (
    BLIND_MARK,
    SEALED_INTERACTION_FIELDS,
    FieldVault,
    is_pii_identifier,
    is_pii_trait,
    is_sealed,
)

PLAIN_TYPES = sorted(k for k, c in IDENTIFIER_CATEGORIES.items() if c is PiiCategory.NON_PII)


@dataclass(frozen=True)
class UpgradeReport:
    """What was converted in one workspace."""

    identifiers_rekeyed: int
    identifiers_kept_apart: int  # blind key taken by a newer profile: re-keyed `<blind>#legacy`, not merged
    profiles_sealed: int
    interactions_sealed: int
    merges_sealed: int
    conflicts_rekeyed: int


def blind_key_of(vault: FieldVault, key: str | None) -> str | None:
    """The blind-index form of a plain identifier node key (other keys unchanged)."""
    if not key:
        return key
    workspace, _, rest = key.partition("|")
    kind, _, value = rest.partition("|")
    if not kind or not is_pii_identifier(kind) or value.startswith(BLIND_MARK):
        return key
    return vault.identifier_key(workspace, kind, value)


def seal_profile_traits(*, vault: FieldVault, repo: UpgradeRepository, workspace: str, page_size: int = 500,
                        is_pii: Callable[[str], bool] = is_pii_trait,
                        progress: Callable[[int], None] | None = None) -> int:
    """Seal every plaintext value of the traits `is_pii` names (rerunnable); profiles changed."""
    profiles = 0
    after = ""
    while rows := repo.page("Profile", workspace=workspace, after=after, limit=page_size):
        after = rows[-1]["id"]
        vault.prepare(workspace, [r["id"] for r in rows], create=True)
        updates = []
        for r in rows:
            props = {k: vault.seal(r["id"], v) for k, v in r["traits"]
                     if is_pii(k[len("trait."):]) and v is not None and not is_sealed(v)}
            if props:
                updates.append({"id": r["id"], "props": props})
        repo.set_props("Profile", workspace=workspace, rows=updates)
        profiles += len(updates)
        if progress is not None:
            progress(len(rows))
    return profiles


def encrypt_existing(*, vault: FieldVault, repo: UpgradeRepository, workspace: str, page_size: int = 500,
                     progress: Callable[[str, int], None] | None = None) -> UpgradeReport:
    """Bring one workspace up to date, page by page."""
    if not vault.enabled:
        raise ValueError("field encryption is off (VEIL_PRIVACY_ENCRYPTION=false): nothing to do")
    tick = progress or (lambda _what, _n: None)

    rekeyed = apart = 0
    after = ""
    while rows := repo.identifier_page(workspace=workspace, plain_types=PLAIN_TYPES, after=after, limit=page_size):
        after = rows[-1]["key"]
        todo = [r for r in rows if f"|{BLIND_MARK}" not in r["key"]]
        vault.prepare(workspace, {r["profile"] for r in todo if r["profile"]}, create=True)
        out = [{"old": r["key"], "new": blind_key_of(vault, r["key"]),
                "value": vault.seal(r["profile"], r["value"]) if r["profile"] and not is_sealed(r["value"]) else
                (r["value"] if is_sealed(r["value"]) else None)} for r in todo]
        done = repo.rekey_identifiers(out)
        rekeyed, apart = rekeyed + done, apart + len(out) - done
        tick("identifiers", len(rows))

    profiles = seal_profile_traits(vault=vault, repo=repo, workspace=workspace, page_size=page_size,
                                   progress=lambda n: tick("profiles", n))

    interactions = 0
    after = ""
    while rows := repo.page("Interaction", workspace=workspace, after=after, limit=page_size):
        after = rows[-1]["id"]
        vault.prepare(workspace, {r["profile"] for r in rows if r["profile"]}, create=True)
        updates = []
        for r in rows:
            old = r["props"]
            props = {"ident": blind_key_of(vault, old.get("ident"))} if old.get("ident") else {}
            if r["profile"]:
                props.update({k: vault.seal(r["profile"], old[k]) for k in SEALED_INTERACTION_FIELDS
                              if old.get(k) is not None and not is_sealed(old[k])})
            if any(old.get(k) != v for k, v in props.items()):
                updates.append({"id": r["id"], "props": props})
        repo.set_props("Interaction", workspace=workspace, rows=updates)
        interactions += len(updates)
        tick("interactions", len(rows))

    merges = 0
    after = ""
    while rows := repo.page("Merge", workspace=workspace, after=after, limit=page_size):
        after = rows[-1]["id"]
        vault.prepare(workspace, [r["loser"] for r in rows], create=True)
        updates = []
        for r in rows:
            merge_props: dict[str, Any] = {
                "moved_identifiers": [blind_key_of(vault, k) for k in r["moved"] or []]}
            if r["loser_traits"] is not None and not is_sealed(r["loser_traits"]):
                merge_props["loser_traits"] = vault.seal(r["loser"], r["loser_traits"])
            if merge_props["moved_identifiers"] != list(r["moved"] or []) or "loser_traits" in merge_props:
                updates.append({"id": r["id"], "props": merge_props})
        repo.set_props("Merge", workspace=workspace, rows=updates)
        merges += len(updates)
        tick("merges", len(rows))

    conflicts = [{"id": c["id"], "identifier": blind_key_of(vault, c["identifier"])}
                 for c in repo.conflicts(workspace=workspace)]
    conflicts = [c for c in conflicts if f"|{BLIND_MARK}" in (c["identifier"] or "")]
    repo.set_conflict_identifiers(conflicts)
    return UpgradeReport(identifiers_rekeyed=rekeyed, identifiers_kept_apart=apart, profiles_sealed=profiles,
                         interactions_sealed=interactions, merges_sealed=merges, conflicts_rekeyed=len(conflicts))
