"""The one authorization entry point: `require(principal, resource, action)`.

casbin evaluates role-level rules with workspaces as domains and deny overriding allow. The
policy lives in Neo4j (graph/policies.py) with a version number; every worker re-reads it
when the stored version moves, so a change made through one worker is seen by all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import casbin
from casbin.model import Model

from access.principal import Principal
from core.errors import VeilError
from graph.policies import PolicyRepository, PolicyRule

MODEL_FILE = Path(__file__).with_name("model.conf")
DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.csv")
FIELD_GROUPS = ("non_pii", "contact", "government_id", "financial", "location", "birth_date", "free_text",
                "identifiers", "interactions", "consents", "merges", "scores")
_VERSION_CHECK_S = 1.0


class Forbidden(VeilError):
    """The principal may not do this (mapped to 403 / FORBIDDEN)."""

    code = "forbidden"
    status = 403

    def __init__(self, resource: str, action: str) -> None:
        super().__init__(f"not allowed to {action} {resource}")
        self.resource = resource
        self.action = action


@dataclass(frozen=True)
class FieldPermissions:
    """Which field groups of a profile a principal may read (computed once per request)."""

    allowed: frozenset[str]

    def may_read(self, group: str) -> bool:
        """True when the group may be returned (masked or not)."""
        return group in self.allowed


def default_rules() -> list[PolicyRule]:
    """The shipped role policy."""
    rules = []
    for line in DEFAULT_POLICY_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        rules.append(PolicyRule(ptype=parts[0], values=tuple(parts[1:])))
    return rules


class Authorizer:
    """casbin enforcer kept in sync with the policy store."""

    def __init__(self, repo: PolicyRepository) -> None:
        self.repo = repo
        self._lock = threading.Lock()
        # casbin's matcher evaluation is not thread-safe (CPython's ast raised "AST constructor
        # recursion depth mismatch" under concurrent resolvers); decisions are memoised, so a
        # lock around the rare evaluation costs nothing.
        self._enforce_lock = threading.Lock()
        self._enforcer: casbin.Enforcer | None = None
        self._version = -1
        self._checked = 0.0
        # Decisions depend only on (subjects, workspace, resource, action) and the policy version:
        # memoised until the version moves (casbin's Python matcher is too slow to run per field).
        self._decisions: dict[tuple[tuple[str, ...], str, str, str], bool] = {}
        self._roles_of: casbin.Enforcer | None = None  # the enforcer `_roles` was computed from
        self._roles: dict[tuple[str, str], tuple[str, ...]] = {}

    def _load(self) -> casbin.Enforcer:
        now = time.monotonic()
        if self._enforcer is not None and now - self._checked < _VERSION_CHECK_S:
            return self._enforcer
        with self._lock:
            version = self.repo.version()
            self._checked = now
            if self._enforcer is None or version != self._version:
                if version == 0:
                    self.repo.seed(default_rules())
                    version = self.repo.version()
                model = Model()
                model.load_model(str(MODEL_FILE))
                enforcer = casbin.Enforcer(model)
                for rule in self.repo.rules():
                    if rule.ptype == "p":
                        enforcer.add_policy(*rule.values)
                    elif rule.ptype == "g":
                        enforcer.add_grouping_policy(*rule.values)
                self._enforcer, self._version = enforcer, version
                self._decisions = {}
            return self._enforcer

    def _subjects(self, principal: Principal) -> list[str]:
        return [principal.id, *(f"role:{r}" for r in principal.roles)]

    def allowed(self, principal: Principal, resource: str, action: str) -> bool:
        """Deny-override decision over the principal and its roles in its workspace."""
        enforcer = self._load()
        subjects = self._subjects(principal)
        memo_key = (tuple(subjects), principal.workspace, resource, action)
        decision = self._decisions.get(memo_key)
        if decision is None:
            with self._enforce_lock:
                decision = self._decide(enforcer, subjects, principal.workspace, resource, action)
            if len(self._decisions) > 50_000:
                self._decisions = {}
            self._decisions[memo_key] = decision
        return decision

    def _decide(self, enforcer: casbin.Enforcer, subjects: list[str], ws: str, resource: str, action: str) -> bool:
        # Any explicit deny for any of the principal's subjects wins.
        if not any(enforcer.enforce(s, ws, resource, action) for s in subjects):
            return False
        return not self._denied(enforcer, subjects, ws, resource, action)

    def _denied(self, enforcer: casbin.Enforcer, subjects: list[str], ws: str, resource: str, action: str) -> bool:
        for rule in enforcer.get_policy():
            sub, dom, obj, act, eft = rule
            if eft != "deny" or dom not in ("*", ws) or act not in ("*", action):
                continue
            if not casbin.util.key_match(resource, obj):
                continue
            if any(s == sub or enforcer.has_grouping_policy(s, sub, ws) or enforcer.has_grouping_policy(s, sub, "*")
                   for s in subjects):
                return True
        return False

    def require(self, principal: Principal, resource: str, action: str) -> None:
        """Raise Forbidden unless allowed."""
        if not self.allowed(principal, resource, action):
            raise Forbidden(resource, action)

    def field_permissions(self, principal: Principal) -> FieldPermissions:
        """Readable profile field groups, computed once per request."""
        return FieldPermissions(frozenset(
            g for g in FIELD_GROUPS if self.allowed(principal, f"profile.{g}", "read")))

    def roles_for(self, subject: str, workspace: str) -> tuple[str, ...]:
        """The roles the policy grants a subject in a workspace now (a change made in this process
        is seen at once; one made by another process within the version check interval, 1 s)."""
        enforcer = self._load()
        if self._roles_of is not enforcer:  # memoised per loaded policy: one dict lookup per request
            self._roles_of, self._roles = enforcer, {}
        hit = self._roles.get((subject, workspace))
        if hit is not None:
            return hit
        with self._enforce_lock:
            links = enforcer.get_filtered_grouping_policy(0, subject)
        roles = tuple(sorted({link[1].removeprefix("role:") for link in links
                              if len(link) >= 3 and link[2] in (workspace, "*") and link[1].startswith("role:")}))
        if len(self._roles) > 50_000:
            self._roles = {}
        self._roles[(subject, workspace)] = roles
        return roles

    def add_rule(self, rule: PolicyRule, *, actor: str) -> bool:
        """Persist a rule and bump the version (every worker reloads)."""
        added = self.repo.add(rule, actor=actor)
        self._checked = 0.0
        return added

    def remove_rule(self, rule: PolicyRule, *, actor: str) -> bool:
        """Remove a rule and bump the version."""
        removed = self.repo.remove(rule, actor=actor)
        self._checked = 0.0
        return removed
