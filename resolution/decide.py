"""What happens to a scored pair: merge automatically, ask a steward, or nothing (pure function).

Precision comes first. A pair merges automatically only when its match probability reaches the
workspace's upper threshold, no comparison shows a hard conflict, and something personal
corroborates it:

- two dates of birth that are neither equal, swapped, nor a typo apart belong to two people (a
  father and son with the same name, address and phone score high on everything else);
- a name with a household's address and phone is not enough on its own: the date of birth or
  the e-mail address must agree too (a son whose date of birth is missing looks like his father).

Such a pair can still be queued for review when it reaches the lower threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import VeilError
from resolution.model import ScoredPair

# (comparison, level label) pairs that forbid an automatic merge.
HARD_CONFLICTS = frozenset({("dob", "All other comparisons")})
# An automatic merge needs at least one of these personal agreements.
CORROBORATION = frozenset({
    ("dob", "same date"), ("dob", "day and month swapped"), ("dob", "one digit off"),
    ("email", "same address"), ("email", "same local part, other domain"), ("email", "local part one typo off"),
})


class Outcome(StrEnum):
    """The decision for one pair."""

    MERGE = "merge"
    REVIEW = "review"
    NONE = "none"


class InvalidThresholds(VeilError):
    """Thresholds out of (0, 1) or in the wrong order."""

    code = "invalid_thresholds"
    status = 400


@dataclass(frozen=True)
class Thresholds:
    """A workspace's two thresholds (match probabilities)."""

    auto_merge: float
    review: float

    def __post_init__(self) -> None:
        for name in ("auto_merge", "review"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 < v < 1:
                raise InvalidThresholds(f"{name} must be a probability strictly between 0 and 1, got {v!r}",
                                        field=name)
        if self.review > self.auto_merge:
            raise InvalidThresholds(f"review threshold {self.review} is above the auto-merge threshold "
                                    f"{self.auto_merge}", field="review")


def conflicts(pair: ScoredPair) -> list[str]:
    """Why the pair may not merge automatically: conflicting comparisons, or `uncorroborated`."""
    found = [e.comparison for e in pair.evidence if (e.comparison, e.level) in HARD_CONFLICTS]
    if not any((e.comparison, e.level) in CORROBORATION for e in pair.evidence):
        found.append("uncorroborated")
    return found


def decide(pair: ScoredPair, thresholds: Thresholds) -> Outcome:
    """Merge, review or nothing for one pair."""
    if pair.probability >= thresholds.auto_merge and not conflicts(pair):
        return Outcome.MERGE
    if pair.probability >= thresholds.review:
        return Outcome.REVIEW
    return Outcome.NONE
