"""Application settings (environment prefix VEIL_)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """Process-wide settings of the API server and CLI."""

    model_config = SettingsConfigDict(env_prefix="VEIL_", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field(
        "dev", description="dev/test generate missing secrets under var/secrets on first start; prod never does "
                           "and refuses to start without them")
    log_level: str = Field("INFO", description="Log level of the JSON logs")
    api_host: str = Field("127.0.0.1", description="Address the API binds to")
    api_port: int = Field(8000, description="Port the API listens on")
    api_workers: int = Field(2, description="uvicorn worker processes (2 suits a 2-core machine shared with Neo4j)")
    default_workspace: str = Field("demo", description="Workspace used by the CLI when none is given")
    graphql_introspection: bool = Field(False, description="Allow GraphQL introspection")
    graphiql: bool = Field(False, description="Serve the GraphiQL IDE at /graphql")
    graphql_max_depth: int = Field(8, description="Deepest GraphQL query accepted")
    graphql_max_aliases: int = Field(15, description="Most aliases in one GraphQL query")
    graphql_max_tokens: int = Field(2000, description="Most tokens in one GraphQL query")
    graphql_max_cost: int = Field(
        10_000, ge=1, description="Most work one GraphQL document may ask for, computed before it runs: every field "
        "counts once per time it would be resolved, a page size (first, sampleSize) multiplies everything below it")
    graphql_max_body_bytes: int = Field(65_536, ge=1024, description="Largest /graphql request body (413 above it)")
    graphql_rate_per_second: float = Field(
        100.0, ge=0, description="Sustained /graphql requests per second per principal (token bucket, per worker "
        "process); 0 turns rate limiting off")
    graphql_rate_burst: int = Field(200, ge=1, description="Requests a principal may send at once before the rate "
                                    "applies (bucket size)")
    graphql_anonymous_rate_per_second: float = Field(
        5.0, ge=0, description="Sustained /graphql requests per second per client IP without valid credentials "
        "(login, refused tokens); 0 turns it off")
    graphql_anonymous_rate_burst: int = Field(30, ge=1, description="Bucket size of the per-IP limit")
    var_dir: str = Field("var", description="Directory for runtime files (pid files, demo credentials)")
