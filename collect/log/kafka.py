"""The durable log on Apache Kafka (VEIL_LOG_BACKEND=kafka): the scale-out shape.

Stateless API nodes produce each accepted request as one message to `veil.events`, keyed by
workspace, with an idempotent producer and `acks=all`; the API answers only after the brokers
acknowledged it. Writers are a consumer group: each polls a batch, writes it to the graph with
the same code as the embedded log's writer (collect/writer.py `GraphSink`) and commits the
offsets only after the graph commit, so a crashed writer's batch is consumed again (idempotent
on messageId). Dead letters go to `veil.events.dlq` with the code and reason in headers.
Only this module imports the Kafka client.

Differences from the embedded log: retried requests are not answered as `duplicates` (the graph
still stores them once); backpressure is the producer's local queue (503 `log_full` when full);
depth is the consumer group's lag in messages (one message per request).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from collect.log.base import (
    Appended,
    DeadLetter,
    LogEntry,
    LogFull,
    LogStats,
    LogUnavailable,
    Poison,
    StoreUnavailable,
)
from collect.log.settings import LogSettings
from collect.service import IngestService
from collect.writer import GraphSink

log = logging.getLogger("veil.collect.kafka")


class KafkaLog:
    """Producer side, plus group lag (stats and the drain barrier) and the dead-letter topic."""

    name = "kafka"

    def __init__(self, settings: LogSettings) -> None:
        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap
        self.ensure_topics()
        self.producer = Producer({
            "bootstrap.servers": self.bootstrap, "acks": "all", "enable.idempotence": True,
            "linger.ms": 2, "delivery.timeout.ms": settings.kafka_delivery_timeout_ms,
            "queue.buffering.max.messages": 100_000, "client.id": "veil-api",
        })
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="veil-kafka-producer", daemon=True)
        self._poller.start()
        self._meta_lock = threading.Lock()
        self._meta: Consumer | None = None

    def ensure_topics(self) -> None:
        """Create the events and dead-letter topics if missing (partitions, replication, min.insync)."""
        s = self.settings
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        topics = [NewTopic(t, num_partitions=s.kafka_partitions, replication_factor=s.kafka_replication,
                           config={"min.insync.replicas": str(s.kafka_min_insync)})
                  for t in (s.kafka_topic, s.kafka_dlq_topic)]
        for topic, fut in admin.create_topics(topics, request_timeout=30).items():
            try:
                fut.result(timeout=60)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise LogUnavailable(f"cannot create Kafka topic {topic}: {exc}") from exc

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)

    def _produce(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> int:
        done = threading.Event()
        box: dict[str, Any] = {}

        def delivered(err: KafkaError | None, msg: Message) -> None:
            box["err"], box["offset"] = err, (msg.offset() if err is None else None)
            done.set()

        retry = {"Retry-After": str(self.settings.retry_after_seconds)}
        try:
            self.producer.produce(topic, key=key, value=value, headers=headers, on_delivery=delivered)
        except BufferError as exc:
            raise LogFull("the Kafka producer queue is full; nothing was stored, retry after the delay",
                          headers=retry) from exc
        except KafkaException as exc:
            raise LogUnavailable(f"Kafka refused the append ({exc}); nothing was stored, retry", headers=retry) from exc
        if not done.wait(self.settings.kafka_delivery_timeout_ms / 1000 + 5) or box["err"] is not None:
            raise LogUnavailable(f"the Kafka brokers did not acknowledge the append ({box.get('err')}); retry",
                                 headers=retry)
        return int(box["offset"])

    def append(self, *, workspace: str, source: str, received_at: str, sent_at: str | None,
               forced_type: str | None, sec_gpc: str | None, events: list[dict[str, Any]],
               keys: list[str]) -> Appended:
        """Produce the request and wait until the in-sync replicas have it (acks=all)."""
        value = orjson.dumps({"workspace": workspace, "source": source, "received_at": received_at,
                              "sent_at": sent_at, "forced_type": forced_type, "sec_gpc": sec_gpc, "events": events})
        offset = self._produce(self.settings.kafka_topic, workspace.encode(), value)
        return Appended(offset, len(events), 0)

    def dead_letter(self, p: Poison) -> None:
        """Produce one dead letter (no body when a policy refused the event)."""
        value = orjson.dumps({"workspace": p.entry.workspace, "source": p.entry.source,
                              "received_at": p.entry.received_at, "sent_at": p.entry.sent_at,
                              "forced_type": p.entry.forced_type, "sec_gpc": p.entry.sec_gpc,
                              "events": [p.event] if p.event is not None else []})
        self._produce(self.settings.kafka_dlq_topic, p.entry.workspace.encode(), value, headers=[
            ("code", p.code.encode()), ("reason", p.reason[:2000].encode()),
            ("message_id", (p.message_id or "").encode()), ("seq", str(p.entry.seq).encode())])

    # -- group lag: stats and barrier ------------------------------------------------------------
    def _partitions(self, topic: str) -> list[TopicPartition]:
        assert self._meta is not None
        md = self._meta.list_topics(topic, timeout=10).topics[topic]
        return [TopicPartition(topic, p) for p in sorted(md.partitions)]

    def _offsets(self, topic: str, group: bool = True) -> list[tuple[int, int, int]]:
        """(low, high, committed) per partition of a topic."""
        with self._meta_lock:
            if self._meta is None:
                self._meta = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.settings.kafka_group,
                                       "enable.auto.commit": False})
            tps = self._partitions(topic)
            committed = self._committed(tps) if group else tps
            out = []
            for tp, c in zip(tps, committed, strict=True):
                lo, hi = self._meta.get_watermark_offsets(tp, timeout=10)
                out.append((lo, hi, c.offset if group and c.offset >= 0 else lo))
            return out

    def _committed(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        """The group's committed offsets, riding out a coordinator that is still loading or moving."""
        assert self._meta is not None
        deadline = time.monotonic() + 30
        while True:
            try:
                return list(self._meta.committed(tps, timeout=10))
            except KafkaException as exc:
                err = exc.args[0]
                if time.monotonic() > deadline or not (err.retriable() or err.code() in (
                        KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                        KafkaError.COORDINATOR_NOT_AVAILABLE)):
                    raise
                time.sleep(0.2)

    def wait_drained(self, *, timeout: float | None = None, feed: bool = True) -> bool:
        """Drain barrier: wait until the writers' committed offsets reach what was produced so far."""
        target = [hi for _lo, hi, _c in self._offsets(self.settings.kafka_topic)]
        deadline = time.monotonic() + (self.settings.barrier_timeout_seconds if timeout is None else timeout)
        while True:
            now = [c for _lo, _hi, c in self._offsets(self.settings.kafka_topic)]
            if all(c >= t for c, t in zip(now, target, strict=True)):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def stats(self) -> LogStats:
        """Lag in messages (requests), produced and consumed totals, dead letters."""
        ev = self._offsets(self.settings.kafka_topic)
        dlq = self._offsets(self.settings.kafka_dlq_topic, group=False)
        return LogStats(pending_events=sum(hi - c for _lo, hi, c in ev), pending_bytes=0, oldest_age_seconds=0.0,
                        appended_total=sum(hi for _lo, hi, _c in ev), drained_total=sum(c for _lo, _hi, c in ev),
                        dead_letters=sum(hi - lo for lo, hi, _c in dlq), head_seq=0)

    def dead_letters(self, *, limit: int = 100, workspace: str | None = None) -> list[DeadLetter]:
        """Read the dead-letter topic (id = partition * 10^12 + offset)."""
        return [d for d, _ in self._read_dlq() if workspace is None or d.workspace == workspace][-limit:][::-1]

    def _read_dlq(self) -> list[tuple[DeadLetter, dict[str, Any]]]:
        bounds = self._offsets(self.settings.kafka_dlq_topic, group=False)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"veil-dlq-reader-{time.time_ns()}",
                      "enable.auto.commit": False})
        out: list[tuple[DeadLetter, dict[str, Any]]] = []
        try:
            c.assign([TopicPartition(self.settings.kafka_dlq_topic, p, lo) for p, (lo, _hi, _c) in enumerate(bounds)])
            remaining = sum(hi - lo for lo, hi, _c in bounds)
            deadline = time.monotonic() + 30
            while remaining > 0 and time.monotonic() < deadline:
                for msg in c.consume(500, timeout=0.5):
                    if msg.error():
                        continue
                    remaining -= 1
                    h = {k: v.decode() for k, v in (msg.headers() or [])}
                    body = orjson.loads(msg.value())
                    ts = msg.timestamp()[1] / 1000
                    out.append((DeadLetter(msg.partition() * 10**12 + msg.offset(), int(h.get("seq", "0")),
                                           body["workspace"], body["source"], h.get("message_id") or None,
                                           h.get("code", ""), h.get("reason", ""), ts, bool(body["events"])), body))
        finally:
            c.close()
        return sorted(out, key=lambda x: x[0].at)

    def replay(self, ids: Iterable[int] | None = None) -> int:
        """Produce dead letters (with a body) to the events topic again; the topic keeps the originals."""
        wanted = set(ids) if ids is not None else None
        n = 0
        for d, body in self._read_dlq():
            if d.replayable and (wanted is None or d.id in wanted):
                self._produce(self.settings.kafka_topic, d.workspace.encode(), orjson.dumps(body))
                n += 1
        return n

    def close(self) -> None:
        """Flush the producer and close the metadata consumer."""
        self.producer.flush(10)
        self._stop.set()
        self._poller.join(5)
        with self._meta_lock:
            if self._meta is not None:
                self._meta.close()
                self._meta = None


def _entry(msg: Message) -> LogEntry:
    body = orjson.loads(msg.value())
    return LogEntry(seq=msg.offset(), workspace=body["workspace"], source=body["source"],
                    received_at=body["received_at"], sent_at=body["sent_at"], forced_type=body["forced_type"],
                    sec_gpc=body["sec_gpc"], events=body["events"], nbytes=len(msg.value()),
                    appended_at=msg.timestamp()[1] / 1000)


class KafkaWriter(GraphSink):
    """A member of the writers' consumer group: poll, write the graph, then commit the offsets."""

    thread_name = "veil-kafka-writer"

    def __init__(self, *, log: KafkaLog, service: IngestService, settings: LogSettings,
                 on_committed: Callable[[str, list[str]], None] | None = None) -> None:
        super().__init__(service=service)
        self.log = log
        self.settings = settings
        self.on_committed = on_committed

    def _consumer(self) -> Consumer:
        c = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": self.settings.kafka_group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "max.poll.interval.ms": 600_000, "client.id": "veil-writer"})
        c.subscribe([self.settings.kafka_topic])
        return c

    def _run(self) -> None:
        consumer = self._consumer()
        backoff = 0.1
        try:
            while not self._stop.is_set():
                try:
                    self.consume_once(consumer)
                    backoff = 0.1
                except StoreUnavailable as exc:
                    self.stats.store_available = False
                    self.stats.last_error = f"store unavailable: {exc}"
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.settings.max_backoff_seconds)
                except Exception as exc:  # logged; offsets not committed, the batch comes again
                    log.exception("kafka writer cycle failed")
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.settings.max_backoff_seconds)
        finally:
            consumer.close()

    def consume_once(self, consumer: Consumer, *, commit: bool = True) -> int:
        """One batch: write it to the graph, dead-letter the poison, then commit; events written."""
        msgs = [m for m in consumer.consume(self.settings.drain_batch_events // 20 or 1, timeout=0.2)
                if m.error() is None]
        if not msgs:
            return 0
        first: dict[tuple[str, int], int] = {}
        nxt: dict[tuple[str, int], int] = {}
        entries: list[LogEntry] = []
        dead: list[Poison] = []
        for m in msgs:
            tp = (m.topic(), m.partition())
            first.setdefault(tp, m.offset())
            nxt[tp] = m.offset() + 1
            try:
                entries.append(_entry(m))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("undecodable message at %s: %s", tp, exc)
        done: list[LogEntry] = []
        touched: dict[str, set[str]] = defaultdict(set)
        try:
            self.write_entries(entries, done=done, touched=touched, dead=dead)
        except StoreUnavailable:
            for (topic, part), off in first.items():  # consume the whole batch again later
                consumer.seek(TopicPartition(topic, part, off))
            raise
        for p in dead:
            self.log.dead_letter(p)
        if self.on_committed is not None:
            for ws, ids in touched.items():
                try:
                    self.on_committed(ws, sorted(ids))
                except Exception:  # the periodic sweep re-evaluates
                    log.exception("realtime evaluation after a Kafka batch failed for %s", ws)
        if commit:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in nxt.items()], asynchronous=False)
        n = sum(len(e.events) for e in entries)
        self.stats.drained += n
        self.stats.dead += len(dead)
        self.stats.cycles += 1
        self.stats.store_available = True
        return n

    def drain(self, *, timeout: float | None = None) -> int:
        """Consume until the group has no lag (the CLI's `veil log drain`)."""
        consumer = self._consumer()
        total = 0
        deadline = time.monotonic() + (timeout if timeout is not None else 600.0)
        try:
            while time.monotonic() < deadline:
                total += self.consume_once(consumer)
                if self.log.stats().pending_events == 0:
                    break
        finally:
            consumer.close()
        return total
