import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, Date, Double, ForeignKey, Identity, Index, Integer, Numeric, String, Uuid,
    func, text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.run import AgentRun

# Money: USD with eight decimals, so a per-token price times a small token count is exact, and any sum is
# exact to the cent and far below it.
Money = Numeric(18, 8)


class LlmLog(Base):
    """One model call attempt: what was asked (redacted), what came back (redacted), what it cost.

    Written in its own short transaction, so failed attempts are kept even when the run's step fails.
    The composite indexes serve GET /api/v1/logs/agents: newest first, keyset on (created_at, id), per
    filter; a plain tenant_id index would be redundant with them, so the column is declared here
    rather than through TenantMixin.
    """

    __tablename__ = "llm_logs"
    __table_args__ = (
        Index("ix_llm_logs_page", "tenant_id", text("created_at DESC"), text("id DESC")),
        Index("ix_llm_logs_agent_page", "tenant_id", "agent", text("created_at DESC"), text("id DESC")),
        Index("ix_llm_logs_provider_page", "tenant_id", "provider", text("created_at DESC"), text("id DESC")),
        Index("ix_llm_logs_status_page", "tenant_id", "status", text("created_at DESC"), text("id DESC")),
        Index("ix_llm_logs_run", "run_id", "id", postgresql_where=text("run_id IS NOT NULL")),
        CheckConstraint("status IN ('ok', 'invalid_output', 'error')", name="status"),
        CheckConstraint("purpose IN ('generate', 'repair')", name="purpose"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid(), ForeignKey("tenants.id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    run_attempt: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))
    is_retry: Mapped[bool] = mapped_column(Boolean)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_key: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[int] = mapped_column(Integer)
    prompt_source: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any] | None]
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    price_version: Mapped[str] = mapped_column(String(32))
    latency_ms: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LlmUsageDaily(Base):
    """llm_logs summed per tenant, UTC day, agent and provider, updated in the transaction that writes each
    log row, so it always equals the sums over llm_logs. Budgets (this month) and the metrics endpoint read
    a few dozen rows here instead of aggregating millions of log rows on every call."""

    __tablename__ = "llm_usage_daily"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # '' when the call was made outside an agent run: part of the key, so it cannot be NULL.
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))


# GET /api/v1/metrics/agents reads runs by creation time with their agent, status and timings. Covering those
# columns lets PostgreSQL answer from the index alone. Declared here, beside the feature that needs it, and
# attached to agent_runs' table so the metadata matches migration 0003.
Index(
    "ix_agent_runs_metrics", AgentRun.tenant_id, AgentRun.created_at,
    postgresql_include=["agent", "status", "started_at", "finished_at"],
)
