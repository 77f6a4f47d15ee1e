"""Deterministic identity resolution: a pure planner over a locked snapshot of the graph.

The graph repository locks every identifier of a batch, loads the profiles they belong to and
hands this planner a Snapshot. The planner walks the events in order and decides, for each:
which profile it lands on, which identifiers get linked, which profiles merge and which
links a per-profile limit forbids (recorded as conflicts). It does no I/O, so it is tested
directly and the rules stay in one place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collect.events import NormalizedEvent
from collect.rules import IdentityRules


def identifier_key(workspace: str, kind: str, value: str) -> str:
    """The plain key of an identifier node (the ingest service passes the vault's blind-index key)."""
    return f"{workspace}|{kind}|{value}"


KeyFunction = Callable[[str, str, str], str]  # (workspace, type, value) -> identifier node key


@dataclass
class ProfileState:
    """What the planner knows of a profile: limited identifiers (by node key) and traits with provenance."""

    id: str
    limited: dict[str, set[str]] = field(default_factory=dict)  # type -> identifier node keys
    traits: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, list[Any]] = field(default_factory=dict)  # name -> [ts iso, source, messageId]
    is_new: bool = False
    first_seen: datetime | None = None
    dirty: bool = False


@dataclass(frozen=True)
class Snapshot:
    """Locked state: identifier key -> profile id (None when unlinked) and the profiles involved."""

    owner: dict[str, str | None]
    profiles: dict[str, ProfileState]


@dataclass(frozen=True)
class MergeStep:
    """One merge: the loser's identifiers and interactions move to the winner."""

    merge_id: str
    loser: str
    winner: str
    root: str
    rule: str
    message_id: str
    at: datetime
    loser_traits: str  # JSON snapshot of the loser's traits, to undo the merge later


@dataclass(frozen=True)
class Conflict:
    """A link or merge that a per-profile limit forbade."""

    message_id: str
    rule: str
    identifier: str
    profiles: tuple[str, ...]
    reason: str
    at: datetime


@dataclass
class Plan:
    """Everything the repository writes for one batch."""

    new_profiles: list[ProfileState] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # key, profile, messageId
    merges: list[MergeStep] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    landing: list[str] = field(default_factory=list)  # profile id per event (final roots)
    trait_writes: list[ProfileState] = field(default_factory=list)


class _Pending:
    """A profile that exists only if no existing profile can take the event's identifiers."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str, str]] = []  # (key, type, value)


class Planner:
    """Applies IdentityRules to a batch of events over a Snapshot."""

    def __init__(self, *, rules: IdentityRules, workspace: str, source_id: str,
                 key_of: KeyFunction = identifier_key) -> None:
        self.rules = rules
        self.workspace = workspace
        self.source_id = source_id
        self.key_of = key_of

    def plan(self, events: list[NormalizedEvent], snapshot: Snapshot) -> Plan:
        """Resolve every event to exactly one profile."""
        owner = dict(snapshot.owner)
        profiles = dict(snapshot.profiles)
        parent: dict[str, str] = {}
        plan = Plan()

        def find(pid: str) -> str:
            while pid in parent:
                pid = parent[pid]
            return pid

        def limit(kind: str) -> int | None:
            return self.rules.get(kind).max_per_profile

        def fits(pid: str, extra: dict[str, set[str]]) -> str | None:
            """None when the profile can take these identifiers, else the type whose limit breaks."""
            p = profiles[pid]
            for kind, values in extra.items():
                lim = limit(kind)
                if lim is not None and len(p.limited.get(kind, set()) | values) > lim:
                    return kind
            return None

        def add_limited(pid: str, kind: str, key: str) -> None:
            if limit(kind) is not None:
                profiles[pid].limited.setdefault(kind, set()).add(key)

        for ev in events:
            idents = list(ev.identifiers)
            if ev.previous_id:
                prev_user = self.key_of(self.workspace, "user_id", ev.previous_id)
                kind = "user_id" if owner.get(prev_user) else "anonymous_id"
                idents.append((kind, ev.previous_id))
            target: str | None = None
            pending = _Pending()
            for kind, value in idents:
                key = self.key_of(self.workspace, kind, value)
                current = owner.get(key)
                current = find(current) if current else None
                if current is None:
                    if target is None:
                        pending.keys.append((key, kind, value))
                        continue
                    broken = fits(target, {kind: {key}})
                    if broken:
                        plan.conflicts.append(Conflict(
                            ev.message_id, f"max_per_profile:{kind}", key, (target,),
                            f"profile already has {limit(kind)} {kind}", ev.ts))
                        continue
                    owner[key] = target
                    add_limited(target, kind, key)
                    plan.links.append((key, target, ev.message_id))
                    continue
                if target is None:
                    extra: dict[str, set[str]] = {}
                    for pkey, k, _ in pending.keys:
                        extra.setdefault(k, set()).add(pkey)
                    broken = fits(current, extra)
                    if broken:
                        # The more trusted identifiers belong to someone else: keep them apart.
                        target = self._materialize(pending, profiles, owner, plan, ev, add_limited)
                        plan.conflicts.append(Conflict(
                            ev.message_id, f"max_per_profile:{broken}", key, (target, current),
                            f"linking would give a profile more than {limit(broken)} {broken}", ev.ts))
                        continue
                    target = current
                    for pkey, k, _ in pending.keys:
                        owner[pkey] = target
                        add_limited(target, k, pkey)
                        plan.links.append((pkey, target, ev.message_id))
                    pending.keys.clear()
                    continue
                if current == target:
                    continue
                broken = fits(target, profiles[current].limited)
                if broken:
                    plan.conflicts.append(Conflict(
                        ev.message_id, f"max_per_profile:{broken}", key, (target, current),
                        f"merging would give a profile more than {limit(broken)} {broken}", ev.ts))
                    continue
                self._merge(current, target, kind, ev, profiles, parent, plan, add_limited)
            if target is None:
                target = self._materialize(pending, profiles, owner, plan, ev, add_limited)
            self._apply_traits(profiles[target], ev)
            plan.landing.append(target)

        plan.landing = [find(p) for p in plan.landing]
        plan.merges = [
            MergeStep(m.merge_id, m.loser, m.winner, find(m.winner), m.rule, m.message_id, m.at,
                      m.loser_traits)
            for m in plan.merges
        ]
        roots = {find(p) for p in profiles}
        plan.trait_writes = [p for pid, p in profiles.items() if pid in roots and p.dirty]
        return plan

    def _materialize(self, pending, profiles, owner, plan, ev, add_limited) -> str:
        state = ProfileState(id=str(uuid.uuid4()), is_new=True, first_seen=ev.ts, dirty=True)
        profiles[state.id] = state
        plan.new_profiles.append(state)
        for key, kind, _ in pending.keys:
            owner[key] = state.id
            add_limited(state.id, kind, key)
            plan.links.append((key, state.id, ev.message_id))
        pending.keys.clear()
        return state.id

    def _merge(self, loser, winner, kind, ev, profiles, parent, plan, add_limited) -> None:
        lp, wp = profiles[loser], profiles[winner]
        for k, keys in lp.limited.items():
            for key in keys:
                add_limited(winner, k, key)
        for name, value in lp.traits.items():
            mine = wp.meta.get(name)
            theirs = lp.meta.get(name)
            if mine is None or (theirs is not None and theirs[0] > mine[0]):
                wp.traits[name] = value
                if theirs is not None:
                    wp.meta[name] = theirs
                wp.dirty = True
        if lp.first_seen and (wp.first_seen is None or lp.first_seen < wp.first_seen):
            wp.first_seen = lp.first_seen
        parent[loser] = winner
        lp.dirty = False
        plan.merges.append(MergeStep(
            str(uuid.uuid4()), loser, winner, winner, f"shared:{kind}", ev.message_id, ev.ts,
            json.dumps({"traits": lp.traits, "meta": lp.meta}, default=str, ensure_ascii=False)))

    def _apply_traits(self, profile: ProfileState, ev: NormalizedEvent) -> None:
        apply_traits(profile, ev.traits, ts=ev.ts.isoformat(), source=self.source_id, message_id=ev.message_id)


def apply_traits(profile: ProfileState, traits: dict[str, Any], *, ts: str, source: str, message_id: str) -> bool:
    """The one trait write rule: a value replaces the stored one unless the stored one is newer."""
    changed = False
    for name, value in traits.items():
        if value is None:
            continue
        seen = profile.meta.get(name)
        if seen is None or ts >= seen[0]:
            profile.traits[name] = value
            profile.meta[name] = [ts, source, message_id]
            profile.dirty = changed = True
    return changed
