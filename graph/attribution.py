"""Cypher for attribution and reporting: orders with the touches before them, campaign costs,
repeat purchases and cohorts. Values are parameters; nothing from input becomes query text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import neo4j

from graph.driver import to_native

# Each order in [since, until) with the touches of the same person in the lookback before it:
# interactions with UTM fields (page/track context) or configured click events (e-mail/LINE/SMS).
# Properties (JSON text) only for clicks without a utm_campaign: the campaign name is in there.
ORDER_TOUCHES = """
MATCH (o:Interaction {workspace: $ws}) WHERE o.event IN $events AND o.ts >= $since AND o.ts < $until
MATCH (p:Profile {status: 'active'})-[:PERFORMED]->(o)
RETURN collect([p.id, coalesce(o.revenue, 0.0), o.ts.epochSeconds,
  COLLECT { MATCH (p)-[:PERFORMED]->(t:Interaction)
            WHERE t.ts >= o.ts - $lookback AND t.ts <= o.ts AND t <> o
              AND (t.utm_source IS NOT NULL OR t.event IN $clicks)
            RETURN [t.ts.epochSeconds, t.utm_source, t.utm_campaign, t.event,
                    CASE WHEN t.utm_campaign IS NULL THEN t.properties END] }]) AS rows
"""
CREATE_COST = """
CREATE (c:CampaignCost {id: $id, workspace: $ws, channel: $channel, campaign: $campaign, amount: $amount,
                        currency: $currency, starts: $starts, ends: $ends, entered_by: $actor, at: $now})
RETURN c.id AS id
"""
COSTS = """
MATCH (c:CampaignCost {workspace: $ws}) WHERE c.starts < $until AND c.ends > $since
RETURN collect(c {.id, .channel, .campaign, .amount, .currency, .starts, .ends}) AS costs
"""
# Buyers in the period, and how many of them have two or more orders up to `until`.
REPEAT = """
MATCH (o:Interaction {workspace: $ws}) WHERE o.event IN $events AND o.ts >= $since AND o.ts < $until
MATCH (p:Profile {status: 'active'})-[:PERFORMED]->(o)
WITH DISTINCT p
WITH p, COUNT { MATCH (p)-[:PERFORMED]->(x:Interaction) WHERE x.event IN $events AND x.ts < $until } AS n
RETURN count(p) AS buyers, sum(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS repeaters
"""
# Per buyer: the epoch of the first order and the epochs of all orders up to `until`.
COHORTS = """
MATCH (o:Interaction {workspace: $ws}) WHERE o.event IN $events AND o.ts < $until
MATCH (p:Profile {status: 'active'})-[:PERFORMED]->(o)
WITH p, collect(o.ts.epochSeconds) AS ts
RETURN collect(ts) AS rows
"""


@dataclass(frozen=True)
class Touch:
    """One touch before an order."""

    epoch: int
    utm_source: str | None
    utm_campaign: str | None
    event: str | None
    properties: str | None


@dataclass(frozen=True)
class OrderTouches:
    """An order and the touches in the lookback before it."""

    profile_id: str
    revenue: float
    epoch: int
    touches: tuple[Touch, ...]


@dataclass(frozen=True)
class CostRecord:
    """Money spent on a channel/campaign over [starts, ends)."""

    id: str
    channel: str
    campaign: str | None
    amount: float
    currency: str
    starts: datetime
    ends: datetime


class AttributionRepository:
    """Reads for attribution and KPIs, and the campaign-cost ledger."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def _read(self, query: str, **params: Any) -> neo4j.Record:
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.READ)
        return records[0]

    def order_touches(self, *, workspace: str, events: list[str], clicks: list[str], since: datetime,
                      until: datetime, lookback: timedelta) -> list[OrderTouches]:
        """Orders in [since, until) with their touches in the lookback."""
        r = self._read(ORDER_TOUCHES, ws=workspace, events=events, clicks=clicks, since=since, until=until,
                       lookback=lookback)
        return [OrderTouches(profile_id=pid, revenue=float(rev), epoch=int(ts),
                             touches=tuple(Touch(int(t[0]), t[1], t[2], t[3], t[4]) for t in touches))
                for pid, rev, ts, touches in r["rows"]]

    def add_cost(self, *, workspace: str, cost_id: str, channel: str, campaign: str | None, amount: float,
                 currency: str, starts: datetime, ends: datetime, actor: str, now: datetime) -> str:
        """Record a campaign cost."""
        records, _, _ = self.driver.execute_query(
            CREATE_COST, id=cost_id, ws=workspace, channel=channel, campaign=campaign, amount=amount,
            currency=currency, starts=starts, ends=ends, actor=actor, now=now, database_=self.database)
        return str(records[0]["id"])

    def costs(self, *, workspace: str, since: datetime, until: datetime) -> list[CostRecord]:
        """Costs whose period overlaps [since, until)."""
        r = self._read(COSTS, ws=workspace, since=since, until=until)
        return [CostRecord(id=c["id"], channel=c["channel"], campaign=c.get("campaign"), amount=float(c["amount"]),
                           currency=c["currency"], starts=to_native(c["starts"]), ends=to_native(c["ends"]))
                for c in r["costs"]]

    def repeat(self, *, workspace: str, events: list[str], since: datetime, until: datetime) -> tuple[int, int]:
        """(buyers in the period, of whom repeat buyers)."""
        r = self._read(REPEAT, ws=workspace, events=events, since=since, until=until)
        return int(r["buyers"]), int(r["repeaters"])

    def order_epochs(self, *, workspace: str, events: list[str], until: datetime) -> list[list[int]]:
        """Each buyer's order times (epoch seconds) up to `until`."""
        return [list(map(int, ts)) for ts in self._read(COHORTS, ws=workspace, events=events, until=until)["rows"]]
