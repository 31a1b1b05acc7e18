"""Settings: one typed object read from the environment (and `.env`), documented in docs/configuration.md."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: str = Field("development", description="development | test | production")

    # Databases. DATABASE_URL is the runtime role (owns nothing, subject to RLS); MIGRATION_DATABASE_URL
    # is the owner role that runs Alembic. Both unset: the embedded PostgreSQL is used.
    database_url: str | None = None
    migration_database_url: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 30_000

    redis_url: str | None = None

    # Embedded services (only used when the URLs above are unset).
    data_dir: Path = PROJECT_ROOT / ".data"
    embedded_redis_port: int = 16379
    embedded_db_name: str = "agentline"

    # Auth.
    jwt_secret: SecretStr = SecretStr("dev-insecure-change-me-dev-insecure-change-me")
    jwt_issuer: str = "agentline"
    jwt_audience: str = "agentline-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    # Edges.
    max_request_body_bytes: int = 1_048_576
    max_upload_bytes: int = 10 * 1_048_576
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    cors_origins: list[str] = []

    log_level: str = "INFO"
    log_json: bool = True

    # Runs.
    run_lease_seconds: int = 60
    run_heartbeat_seconds: int = 10
    run_hard_time_limit_seconds: int = 300
    broker_visibility_timeout_seconds: int = 600
    run_retry_base_seconds: float = 2.0
    run_retry_max_seconds: float = 300.0
    run_default_max_attempts: int = 4
    tenant_max_running_runs: int = 20
    outbox_relay_interval_seconds: float = 5.0
    outbox_republish_after_seconds: int = 30
    reaper_interval_seconds: float = 15.0

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
