"""Cypher for the identity graph write path (named, parameterised; no values pasted in).

Queries return one row with collected lists: the Python driver costs about 0.1 ms per
record on this hardware, more than the server spends on the row.
"""

FIND_EXISTING_KEYS = "MATCH (i:Identifier) WHERE i.key IN $keys RETURN collect(i.key) AS keys"

# Step 1: create missing identifiers and write-lock all of them (sorted keys, so concurrent
# batches lock in the same order), then read which profile each belongs to. PII identifiers
# arrive without a value (r.value is null): their sealed value is written when they are linked.
LOCK_IDENTIFIERS = """
UNWIND $rows AS r
MERGE (i:Identifier {key: r.key})
ON CREATE SET i.workspace = $workspace, i.type = r.type, i.value = r.value,
              i.first_seen = datetime(r.ts), i.source = $source
SET i.last_seen = $now
FOREACH (_ IN CASE WHEN r.type = 'anonymous_id' THEN [1] ELSE [] END | SET i:Cookie)
FOREACH (_ IN CASE WHEN r.type = 'device_id' THEN [1] ELSE [] END | SET i:Device)
WITH i
OPTIONAL MATCH (i)-[:IDENTIFIES]->(p:Profile)
RETURN collect([i.key, p.id]) AS owners
"""

# Step 2: write-lock the profiles involved and read their limited identifiers (by key) and traits.
# No temporal values travel either way in bulk: the Python driver's (de)hydration of them
# costs far more than the query, so times go as ISO strings and Cypher's datetime() parses them.
LOCK_PROFILES = """
UNWIND $ids AS pid
MATCH (p:Profile {id: pid})
SET p.locked_at = $now
WITH p
OPTIONAL MATCH (p)<-[:IDENTIFIES]-(x:Identifier) WHERE x.type IN $limited
WITH p, collect([x.type, x.key]) AS limited
RETURN collect({id: p.id, meta: p.trait_meta, limited: limited,
                traits: [k IN keys(p) WHERE k STARTS WITH 'trait.' | [substring(k, 6), p[k]]]}) AS profiles
"""

LINK_IDENTIFIERS = """
UNWIND $rows AS r
MATCH (i:Identifier {key: r.key}), (p:Profile {id: r.profile})
MERGE (i)-[l:IDENTIFIES]->(p)
ON CREATE SET l.since = $now, l.message_id = r.message_id
SET i.value = coalesce(i.value, r.value)
"""

# Merges in batch order; `root` is where the loser's data ends up after in-batch chains.
MERGE_PROFILES = """
UNWIND $rows AS m
MATCH (l:Profile {id: m.loser}), (w:Profile {id: m.winner}), (root:Profile {id: m.root})
CALL (l, root, m) {
  OPTIONAL MATCH (l)<-[r:IDENTIFIES]-(x:Identifier)
  WITH root, m, r, x WHERE r IS NOT NULL
  CREATE (x)-[:IDENTIFIES {since: $now, merge_id: m.merge_id}]->(root)
  DELETE r
  RETURN collect(x.key) AS moved
}
CALL (l, root) {
  OPTIONAL MATCH (l)-[r:PERFORMED]->(e:Interaction)
  WITH root, r, e WHERE r IS NOT NULL
  CREATE (root)-[:PERFORMED]->(e)
  DELETE r
  RETURN count(e) AS moved_events
}
SET l.status = 'merged', l.merged_into = w.id, l.merged_at = $now
CREATE (g:Merge {id: m.merge_id, workspace: $workspace, loser: m.loser, winner: m.winner,
                 rule: m.rule, message_id: m.message_id, source: $source, event_ts: datetime(m.at), at: $now,
                 moved_identifiers: moved, moved_interactions: moved_events,
                 loser_traits: m.loser_traits})
CREATE (l)-[:MERGED_INTO {merge_id: m.merge_id, at: $now}]->(w)
"""

CREATE_INTERACTIONS = """
UNWIND $rows AS r
MERGE (e:Interaction {key: r.key})
ON CREATE SET e += r.props, e.ts = datetime(r.ts), e.received_at = datetime(r.received_at), e.batch = $batch
WITH e, r WHERE e.batch = $batch
MATCH (p:Profile {id: r.profile})
CREATE (p)-[:PERFORMED]->(e)
WITH e, r
CALL (e, r) {
  UNWIND r.items AS li
  MERGE (pr:Product {key: li.key})
  ON CREATE SET pr.workspace = $workspace, pr.product_id = li.product_id, pr.name = li.name,
                pr.category = li.category
  CREATE (e)-[:CONTAINS {quantity: li.quantity, price: li.price}]->(pr)
}
RETURN collect(r.key) AS created
"""

# New profiles are created and touched profiles get their traits and times, in one statement.
UPSERT_PROFILES = """
UNWIND $rows AS r
WITH r, datetime(r.first_seen) AS first_seen, datetime(r.last_seen) AS last_seen
MERGE (p:Profile {id: r.id})
ON CREATE SET p.workspace = $workspace, p.status = 'active', p.created_at = $now
SET p += r.props, p.updated_at = $now,
    p.trait_meta = coalesce(r.meta, p.trait_meta),
    p.first_seen = CASE WHEN first_seen IS NOT NULL AND (p.first_seen IS NULL OR first_seen < p.first_seen)
                        THEN first_seen ELSE p.first_seen END,
    p.last_seen = CASE WHEN last_seen IS NOT NULL AND (p.last_seen IS NULL OR last_seen > p.last_seen)
                       THEN last_seen ELSE p.last_seen END
"""

RECORD_CONFLICTS = """
UNWIND $rows AS c
CREATE (:IdentityConflict {workspace: $workspace, message_id: c.message_id, rule: c.rule,
                           identifier: c.identifier, profiles: c.profiles, reason: c.reason,
                           event_ts: datetime(c.at), at: $now, source: $source})
"""

LOCK_PROFILE = """
MATCH (p:Profile {id: $id, workspace: $workspace, status: 'active'})
SET p.locked_at = $now
RETURN p.trait_meta AS meta, [k IN keys(p) WHERE k STARTS WITH 'trait.' | [substring(k, 6), p[k]]] AS traits
"""
