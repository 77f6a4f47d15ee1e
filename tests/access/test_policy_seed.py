"""A fresh install's first policy change must not leave the store without the shipped policy."""

from __future__ import annotations

from access.authz import Authorizer, default_rules
from access.principal import Principal, PrincipalKind
from graph.policies import PolicyRule


class MemoryPolicies:
    """The policy store's interface over a list (the real one is Neo4j; its queries are tested elsewhere)."""

    def __init__(self) -> None:
        self._rules: list[PolicyRule] = []
        self._version = 0

    def version(self) -> int:
        return self._version

    def seed(self, rules: list[PolicyRule]) -> None:
        if self._version == 0:
            self._rules = list(rules)
            self._version = 1

    def rules(self) -> list[PolicyRule]:
        return list(self._rules)

    def add(self, rule: PolicyRule, *, actor: str) -> bool:
        if rule in self._rules:
            return False
        self._rules.append(rule)
        self._version += 1
        return True

    def remove(self, rule: PolicyRule, *, actor: str) -> bool:
        if rule not in self._rules:
            return False
        self._rules.remove(rule)
        self._version += 1
        return True


def test_the_first_rule_change_on_an_empty_store_keeps_the_shipped_policy():
    repo = MemoryPolicies()
    authz = Authorizer(repo)  # type: ignore[arg-type]
    # What `veil migrate` does on a fresh install: the installing OS user becomes admin operator.
    authz.add_rule(PolicyRule("g", ("operator:root", "role:admin", "*")), actor="operator:root")
    assert set(default_rules()) <= set(repo.rules())
    root = Principal(id="operator:root", kind=PrincipalKind.OPERATOR, workspace="demo", roles=("admin",))
    assert authz.allowed(root, "sources", "write")
