"""Durable-log settings (environment prefix VEIL_LOG_)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogSettings(BaseSettings):
    """Where accepted events wait for the graph, and when the API stops accepting more."""

    model_config = SettingsConfigDict(env_prefix="VEIL_LOG_", extra="ignore")

    backend: Literal["sqlite", "kafka", "direct"] = Field(
        "sqlite", description="sqlite: ack after a durable append, writers drain into Neo4j; kafka: ack after "
                              "the brokers acknowledged (acks=all), consumer-group writers; "
                              "direct: ack after the Neo4j commit (no log)")
    path: Path = Field(Path("var/log/events.db"), description="SQLite file of the embedded log (WAL beside it)")
    high_water_events: int = Field(500_000, description="Pending events beyond which appends answer 503")
    high_water_bytes: int = Field(512 * 1024 * 1024, description="Pending bytes beyond which appends answer 503")
    high_water_age_seconds: float = Field(
        3600.0, description="Age of the oldest pending event beyond which appends answer 503")
    retry_after_seconds: int = Field(2, description="Retry-After sent when the log is over its high-water mark")
    group_commit_events: int = Field(5000, description="Most events one append transaction (one fsync) holds")
    drain_batch_events: int = Field(5000, description="Most events a writer sends to Neo4j in one transaction")
    dedupe_window_seconds: int = Field(
        7 * 24 * 3600, description="How long appended messageIds are remembered to answer retries as duplicates")
    drain_in_api: bool = Field(
        True, description="The API process drains the log; false when `veil log drain --follow` runs beside it")
    idle_poll_seconds: float = Field(0.02, description="How often an idle writer looks for new entries")
    max_backoff_seconds: float = Field(5.0, description="Longest pause between writer retries while Neo4j is down")
    barrier_timeout_seconds: float = Field(120.0, description="Default wait of the drain barrier")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers (kafka backend)")
    kafka_topic: str = Field("veil.events", description="Topic of accepted events, keyed by workspace")
    kafka_dlq_topic: str = Field("veil.events.dlq", description="Topic of dead letters (reason in headers)")
    kafka_group: str = Field("veil-writers", description="Consumer group of the graph writers")
    kafka_partitions: int = Field(4, description="Partitions of the topics when Veil creates them")
    kafka_replication: int = Field(1, description="Replication factor when Veil creates the topics (3 in production)")
    kafka_min_insync: int = Field(1, description="min.insync.replicas when Veil creates the topics (2 in production)")
    kafka_delivery_timeout_ms: int = Field(10_000, description="How long an append waits for the brokers")
