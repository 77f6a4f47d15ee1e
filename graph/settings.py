"""Neo4j connection settings (environment prefix VEIL_NEO4J_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.secrets import NEO4J_PASSWORD, SecretStore


class Neo4jSettings(BaseSettings):
    """Where the graph lives. Defaults point at the local server started by deploy/neo4j.sh."""

    model_config = SettingsConfigDict(env_prefix="VEIL_NEO4J_", extra="ignore")

    uri: str = Field("bolt://127.0.0.1:7687", description="Bolt/neo4j URI of the server or cluster")
    user: str = Field("neo4j", description="Neo4j user name")
    password: str = Field("", repr=False, description="Neo4j password; unset: password_file, else "
                                                      "var/secrets/neo4j-password (which deploy/neo4j.sh sets on a "
                                                      "fresh local store)")
    password_file: Path | None = Field(None, description="File holding the Neo4j password")
    database: str = Field("neo4j", description="Database name; always passed to avoid a round trip")
    max_pool_size: int = Field(64, description="Driver connection pool size")
    write_batch_rows: int = Field(5000, description="Rows per UNWIND transaction in bulk writes")

    def auth_password(self, store: SecretStore | None = None) -> str:
        """The password: the value, the file setting, or the install's file (generated outside prod)."""
        return (store or SecretStore.from_env()).resolve(NEO4J_PASSWORD, value=self.password,
                                                         file=self.password_file).value

    def with_secrets(self, store: SecretStore | None = None) -> Neo4jSettings:
        """A copy whose password holds the resolved one."""
        return self.model_copy(update={"password": self.auth_password(store)})
