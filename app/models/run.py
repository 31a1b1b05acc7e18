import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class AgentRun(IdMixin, TenantMixin, TimestampMixin, Base):
    """One durable execution of an agent. Status changes only through app.runs.state."""

    __tablename__ = "agent_runs"
    __table_args__ = (
        # Keyset pagination (newest first) and its filtered variants.
        Index("ix_agent_runs_page", "tenant_id", text("created_at DESC"), text("id DESC")),
        Index("ix_agent_runs_status_page", "tenant_id", "status", text("created_at DESC"), text("id DESC")),
        Index("ix_agent_runs_agent_page", "tenant_id", "agent", text("created_at DESC"), text("id DESC")),
        Index("ix_agent_runs_pipeline", "tenant_id", "pipeline_id", postgresql_where=text("pipeline_id IS NOT NULL")),
        # The reaper's scans: leases of running runs, due retries, queued runs that never started.
        Index("ix_agent_runs_lease", "lease_expires_at", postgresql_where=text("status = 'running'")),
        Index("ix_agent_runs_waiting", "status", "updated_at",
              postgresql_where=text("status IN ('queued', 'retry_scheduled')")),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_agent_runs_idempotency"),
    )

    agent: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    input: Mapped[dict[str, Any]]
    output: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    # Claims made so far. It only ever grows: an execution holds the run at its attempt number (the fence).
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # The attempt count when the current budget of `max_attempts` began: 0, or `attempt` at the
    # operator's last retry. A transient failure is retried while attempt - attempt_base < max_attempts.
    attempt_base: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(255))
    requested_by_type: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[uuid.UUID | None]
    pipeline_id: Mapped[uuid.UUID | None]
    parent_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    overridden: Mapped[bool] = mapped_column(default=False)
    override_reason: Mapped[str | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)


class RunStep(IdMixin, TenantMixin, Base):
    """The stored result of one named step of a run: a re-executed run reads it instead of redoing the work."""

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    result: Mapped[Any] = mapped_column(JSONB, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RunEvent(TenantMixin, Base):
    """Every state change of a run, in order: the history, and what GET /runs/{id}/events streams."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run", "run_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent_runs.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IdempotencyRecord(Base):
    """The response to a POST that created work, replayed for a repeat of the same key and body."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
