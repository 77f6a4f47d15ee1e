"""Application settings (environment prefix VEIL_)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """Process-wide settings of the API server and CLI."""

    model_config = SettingsConfigDict(env_prefix="VEIL_", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field("dev", description="dev/test allow demo secrets; prod refuses them")
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
    var_dir: str = Field("var", description="Directory for runtime files (pid files, demo credentials)")
