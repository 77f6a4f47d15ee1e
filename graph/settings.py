"""Neo4j connection settings (environment prefix VEIL_NEO4J_)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PASSWORD = "veil-dev-password"


class Neo4jSettings(BaseSettings):
    """Where the graph lives. Defaults point at the local server started by deploy/neo4j.sh."""

    model_config = SettingsConfigDict(env_prefix="VEIL_NEO4J_", extra="ignore")

    uri: str = Field("bolt://127.0.0.1:7687", description="Bolt/neo4j URI of the server or cluster")
    user: str = Field("neo4j", description="Neo4j user name")
    password: str = Field(DEV_PASSWORD, description="Neo4j password (the dev default is refused in prod)")
    database: str = Field("neo4j", description="Database name; always passed to avoid a round trip")
    max_pool_size: int = Field(64, description="Driver connection pool size")
    write_batch_rows: int = Field(5000, description="Rows per UNWIND transaction in bulk writes")
