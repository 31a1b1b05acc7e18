"""Settings: one typed object read from the environment (and `.env`), documented in docs/configuration.md."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


DEVELOPMENT_JWT_SECRET = "dev-insecure-change-me-dev-insecure-change-me"


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
    # A backstop, not the way transactions end: longer than any pause inside a transaction that is not a
    # fault (an embedder call in a step, at KNOWLEDGE_EMBED_TIMEOUT_SECONDS with its retries).
    db_idle_in_transaction_timeout_ms: int = 120_000

    redis_url: str | None = None

    # Embedded services (only used when the URLs above are unset).
    data_dir: Path = PROJECT_ROOT / ".data"
    embedded_redis_port: int = 16379
    embedded_db_name: str = "agentline"

    # Auth.
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
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

    # LLM orchestration (docs/llm.md). A tenant's settings["llm"] overrides provider, model, temperature,
    # fallback and budgets; keys, endpoints, timeouts and retry policy are deployment-wide.
    llm_provider: str = "offline"
    llm_model: str | None = Field(None, description="None: the provider's default model")
    llm_temperature: float = 0.2
    llm_fallback: list[str] = Field(
        [], description='Tried in order when the primary provider fails: "name" or "name:model"'
    )
    llm_max_output_tokens: int = 2048
    llm_timeout_seconds: float = 30.0
    llm_max_retries: int = 2
    llm_retry_base_seconds: float = 0.5
    llm_retry_max_wait_seconds: float = 20.0
    llm_breaker_failure_threshold: int = 5
    llm_breaker_cooldown_seconds: float = 30.0
    llm_monthly_token_budget: int | None = None
    llm_monthly_cost_budget_usd: Decimal | None = None
    llm_log_max_chars: int = 20_000
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    ollama_host: str = "http://127.0.0.1:11434"
    # The `langchain` provider: model name -> "package.module:attribute", a LangChain chat model instance or a
    # callable returning one. Tenants choose among these names; they never name code themselves.
    llm_langchain_models: dict[str, str] = {}

    # Knowledge (docs/knowledge.md). A tenant's settings["knowledge"] may override embedder, embedding_model
    # and embedding_dimensions; keys and hosts are the LLM ones above (openai_*, ollama_host).
    knowledge_embedder: str = Field("offline", description="offline | openai | ollama")
    knowledge_embedding_model: str | None = Field(None, description="None: the embedder's default model")
    knowledge_embedding_dimensions: int | None = Field(
        None, description="openai text-embedding-3 only: ask for vectors of this size (e.g. 1536 for -large)"
    )
    knowledge_embed_batch_size: int = Field(64, ge=1, le=2048)
    knowledge_embed_timeout_seconds: float = 30.0
    knowledge_chunk_size: int = Field(1000, ge=100, description="characters per chunk, at most")
    knowledge_chunk_overlap: int = Field(150, ge=0, description="characters shared by neighbouring chunks")
    knowledge_max_pdf_pages: int = 2000
    knowledge_search_candidates: int = Field(40, ge=1, le=1000, description="per retriever, before fusion")
    knowledge_rrf_k: int = 60
    knowledge_lexical_min_share: float = Field(
        0.5, ge=0, lt=1, description="full-text candidates contain more than this share of the query's words"
    )
    knowledge_hnsw_ef_search: int = Field(64, ge=1, le=1000, description="tuned with bench/retrieval.py")
    knowledge_exact_search_max_chunks: int = Field(
        2000, ge=0, description="a (filtered) set this small is searched exactly instead of through HNSW"
    )

    # Runs.
    run_lease_seconds: float = 60.0
    run_heartbeat_seconds: float = 10.0
    run_hard_time_limit_seconds: int = 300
    broker_visibility_timeout_seconds: int = 600
    run_retry_base_seconds: float = 2.0
    run_retry_max_seconds: float = 300.0
    run_default_max_attempts: int = 4
    tenant_max_running_runs: int = 20
    # How often beat looks for reviews to remind, escalate or expire (app.reviews.service.sweep).
    review_sweep_interval_seconds: float = 60.0
    outbox_relay_interval_seconds: float = 5.0
    outbox_republish_after_seconds: int = 30
    reaper_interval_seconds: float = 15.0
    run_stalled_after_seconds: int = 300
    # Extra modules imported when the agent registry loads; each registers its agents with
    # app.agents.registry.register (custom agents of a deployment, test agents of the test suite).
    agent_plugins: list[str] = []
    task_expires_seconds: int = 3600
    # Commit mode of worker processes (claims, steps, outcomes); see app.core.db.use_worker_commit_mode.
    worker_synchronous_commit: Literal["on", "off"] = "off"
    # A worker serves its processes' metrics (runs, model tokens and cost) on this port; 0 turns it off.
    worker_metrics_port: int = 0

    # Email (docs/email.md). SMTP_URL unset: approved emails are written to the file outbox instead.
    smtp_url: SecretStr | None = Field(
        None, description="smtp://user:pass@host:port, smtps:// for implicit TLS, ?starttls=true to upgrade"
    )
    smtp_timeout_seconds: float = 20.0
    email_from: str = "Agentline <no-reply@agentline.local>"
    email_message_id_domain: str = "agentline.local"
    email_outbox_dir: Path | None = Field(None, description="None: <DATA_DIR>/outbox")
    email_unsubscribe_mailto: str | None = Field(None, description="None: the From address")
    email_unsubscribe_url: str | None = Field(None, description="https URL for RFC 8058 one-click; {email_id} is filled in")
    email_send_max_attempts: int = Field(5, ge=1)
    email_retry_base_seconds: float = 10.0
    email_retry_max_seconds: float = 600.0
    # An approved email not heard of for this long has its send published again (beat, every minute).
    email_stalled_after_seconds: int = Field(1800, ge=60)

    # Webhooks (docs/webhooks.md). Private, loopback, link-local and metadata targets are refused unless this
    # is set (a deployment whose receivers live on its own network; the tests).
    webhooks_allow_private_targets: bool = False
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(14, ge=1)
    webhook_retry_base_seconds: float = Field(60.0, gt=0)
    webhook_retry_max_seconds: float = Field(21600.0, gt=0)
    # An endpoint that has not accepted a delivery for this long is disabled.
    webhook_disable_after_seconds: float = Field(86400.0, gt=0)
    # A pending delivery this much past its due time (its message was lost) is published again (beat).
    webhook_stalled_after_seconds: int = Field(300, ge=1)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_names_a_server(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            parts = urlsplit(url.get_secret_value())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("SMTP_URL must look like smtp://user:password@host:port or smtps://host:port")
            if parts.scheme == "smtps" and "starttls=true" in parts.query.lower():
                raise ValueError("SMTP_URL: smtps:// is TLS from the start; ?starttls=true applies to smtp:// only")
        return url

    @model_validator(mode="after")
    def _refuse_public_secrets_in_production(self) -> "Settings":
        secret = self.jwt_secret.get_secret_value()
        if self.environment == "production" and (secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32):
            raise ValueError("JWT_SECRET must be set to a private value of at least 32 characters in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
