"""Cypher for the lifecycle and prediction models: the order history aggregate, score write-back,
monthly stage history and the reports computed from them.

Scores are non-PII profile properties under `score.` (never `trait.`, so the segment trait
catalog and the PII masking of traits do not see them). Stage history is one relationship per
profile and month: `(:Profile)-[:LIFECYCLE {stage, at}]->(:LifecycleMonth {key: ws|YYYY-MM})`;
a later refresh in the same month overwrites it, so it holds the stage at the month's last
refresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graph.driver import Repository, to_native

# Every score property (constant keys: the write map and the clearing map are built from these).
SCORE_KEYS = (
    "score.orders", "score.revenue", "score.first_order_at", "score.last_order_at",
    "score.rfm_recency", "score.rfm_frequency", "score.rfm_monetary", "score.rfm_segment",
    "score.lifecycle_stage", "score.expected_purchases", "score.purchase_probability", "score.stars",
    "score.p_alive", "score.clv", "score.horizon_days", "score.refreshed_at",
)

# One row with three parallel lists: the driver costs ~0.1 ms per record, far less per list item.
ORDER_HISTORY = """
MATCH (e:Interaction {workspace: $ws}) WHERE e.event IN $events AND e.ts <= $now
MATCH (p:Profile {status: 'active'})-[:PERFORMED]->(e)
RETURN collect(p.id) AS ids, collect(e.ts.epochSeconds) AS ts, collect(coalesce(e.revenue, 0.0)) AS revenue
"""
ENSURE_MONTH = """
MERGE (m:LifecycleMonth {key: $key})
ON CREATE SET m.workspace = $ws, m.month = $month
"""
WRITE_SCORES = """
MATCH (m:LifecycleMonth {key: $month_key})
UNWIND $rows AS r
MATCH (p:Profile {id: r.id})
SET p += r.props, p.`score.refreshed_at` = $now,
    p.`score.first_order_at` = datetime({epochSeconds: r.first}),
    p.`score.last_order_at` = datetime({epochSeconds: r.last})
MERGE (p)-[l:LIFECYCLE]->(m)
SET l.stage = r.stage, l.at = $now
"""
# Profiles scored before but not now (merged away, or their orders moved): scores removed.
CLEAR_STALE = """
MATCH (p:Profile {workspace: $ws})
WHERE p.`score.refreshed_at` IS NOT NULL AND p.`score.refreshed_at` <> $now
SET p += $cleared
RETURN count(p) AS n
"""
SAVE_MODEL = """
MERGE (f:ModelFit {key: $key})
SET f += $props, f.workspace = $ws, f.kind = $kind, f.fitted_at = $now
"""
GET_MODEL = "MATCH (f:ModelFit {key: $key}) RETURN f {.*} AS f"
TRANSITIONS = """
RETURN
  COLLECT { MATCH (:LifecycleMonth {key: $to_key})<-[l2:LIFECYCLE]-(p:Profile)
            OPTIONAL MATCH (p)-[l1:LIFECYCLE]->(:LifecycleMonth {key: $from_key})
            WITH l1.stage AS before, l2.stage AS after, count(*) AS n
            RETURN [before, after, n] } AS moves,
  COLLECT { MATCH (:LifecycleMonth {key: $from_key})<-[l1:LIFECYCLE]-(p:Profile)
            WHERE NOT EXISTS { MATCH (p)-[:LIFECYCLE]->(:LifecycleMonth {key: $to_key}) }
            WITH l1.stage AS before, count(*) AS n
            RETURN [before, n] } AS exits
"""
# Revenue and orders in [since, until) per group of buyers. The group key is a property name
# chosen from a fixed map by the service, passed as a parameter (`p[$group]`).
GROUP_REVENUE = """
MATCH (e:Interaction {workspace: $ws}) WHERE e.event IN $events AND e.ts >= $since AND e.ts < $until
MATCH (p:Profile {status: 'active'})-[:PERFORMED]->(e)
WITH p, sum(coalesce(e.revenue, 0.0)) AS revenue, count(e) AS orders
WITH coalesce(toString(p[$group]), '(none)') AS grp, count(p) AS buyers, sum(revenue) AS revenue,
     sum(orders) AS orders
RETURN collect([grp, buyers, revenue, orders]) AS rows
"""
WORKSPACES = """
RETURN COLLECT { MATCH (w:Workspace) RETURN w.id UNION MATCH (s:Segment) RETURN s.workspace } AS ids
"""


@dataclass(frozen=True)
class OrderHistory:
    """Every purchase of the workspace's active profiles: parallel lists, one entry per order."""

    profile_ids: list[str]
    epoch_seconds: list[int]
    revenue: list[float]


@dataclass(frozen=True)
class StageMoves:
    """Stage transitions between two months: (before or None if new, after, count) and exits."""

    moves: tuple[tuple[str | None, str, int], ...]
    exits: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class GroupRevenue:
    """Buyers, revenue and orders of one group in a period."""

    group: str
    buyers: int
    revenue: float
    orders: int


class AnalyticsRepository(Repository):
    """Reads the order history and writes model scores; every query is scoped by workspace."""

    def order_history(self, *, workspace: str, events: Sequence[str], now: datetime) -> OrderHistory:
        """All purchases up to `now` of active profiles."""
        r = self._read(ORDER_HISTORY, ws=workspace, events=list(events), now=now)[0]
        return OrderHistory(profile_ids=list(r["ids"]), epoch_seconds=list(r["ts"]),
                            revenue=[float(x) for x in r["revenue"]])

    def ensure_month(self, *, workspace: str, month: str) -> str:
        """The stage-history node of a month (created once); returns its key."""
        key = f"{workspace}|{month}"
        self._write(ENSURE_MONTH, key=key, ws=workspace, month=month)
        return key

    def write_scores(self, *, month_key: str, rows: list[dict[str, Any]], now: datetime) -> None:
        """Rows of {id, props (score.* only), first, last (epoch s), stage}; one transaction."""
        self._write(WRITE_SCORES, month_key=month_key, rows=rows, now=now)

    def clear_stale(self, *, workspace: str, now: datetime) -> int:
        """Remove the scores of profiles not scored at `now`; returns how many."""
        cleared = dict.fromkeys(SCORE_KEYS)
        return int(self._write(CLEAR_STALE, ws=workspace, now=now, cleared=cleared)[0]["n"])

    def save_model(self, *, workspace: str, kind: str, params: Mapping[str, Any], now: datetime) -> None:
        """Store a fitted model's parameters for the workspace."""
        self._write(SAVE_MODEL, key=f"{workspace}|{kind}", ws=workspace, kind=kind, props=dict(params), now=now)

    def get_model(self, *, workspace: str, kind: str) -> dict[str, Any] | None:
        """A stored model's parameters, or None."""
        rows = self._read(GET_MODEL, key=f"{workspace}|{kind}")
        return {k: to_native(v) for k, v in rows[0]["f"].items()} if rows else None

    def transitions(self, *, workspace: str, from_month: str, to_month: str) -> StageMoves:
        """Who was in which stage in `from_month` and in `to_month` (YYYY-MM)."""
        r = self._read(TRANSITIONS, from_key=f"{workspace}|{from_month}", to_key=f"{workspace}|{to_month}")[0]
        return StageMoves(moves=tuple((b, a, int(n)) for b, a, n in r["moves"]),
                          exits=tuple((b, int(n)) for b, n in r["exits"]))

    def group_revenue(self, *, workspace: str, group_property: str, events: Sequence[str], since: datetime,
                      until: datetime) -> list[GroupRevenue]:
        """Revenue and orders in [since, until) per value of a (non-PII) profile property."""
        r = self._read(GROUP_REVENUE, ws=workspace, group=group_property, events=list(events), since=since,
                       until=until)[0]
        return [GroupRevenue(group=g, buyers=int(b), revenue=float(rev), orders=int(o))
                for g, b, rev, o in r["rows"]]

    def workspaces(self) -> list[str]:
        """Workspaces with a source or a saved segment."""
        return sorted({w for w in self._read(WORKSPACES)[0]["ids"] if w})
