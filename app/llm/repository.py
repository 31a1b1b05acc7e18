"""The queries behind GET /logs/agents and GET /metrics/agents, all aggregated in PostgreSQL.

Each is shaped for an index (EXPLAIN at a million rows in docs/llm.md):
- the log page: keyset on (created_at, id) newest first, on ix_llm_logs_page or the filter's own
  (tenant_id, <filter>, created_at DESC, id DESC) index; a run's calls on ix_llm_logs_run;
- run counts and latency percentiles: an index-only range scan of ix_agent_runs_metrics;
- tokens and cost: llm_usage_daily, a row per tenant, day, agent and provider, never llm_logs itself.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Select, and_, cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session, defer

from app.core.context import TenantContext
from app.core.scope import scoped
from app.models import AgentRun, LlmLog, LlmUsageDaily

FINISHED = ("succeeded", "failed", "dead_lettered")


@dataclass(frozen=True)
class LogFilters:
    run_id: uuid.UUID | None = None
    agent: str | None = None
    provider: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def log_page(session: Session, ctx: TenantContext, filters: LogFilters, *, limit: int,
             after: tuple[datetime, int] | None, with_payloads: bool) -> list[LlmLog]:
    query: Select = scoped(ctx, LlmLog)
    for column, value in ((LlmLog.run_id, filters.run_id), (LlmLog.agent, filters.agent),
                          (LlmLog.provider, filters.provider), (LlmLog.status, filters.status)):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(LlmLog.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(LlmLog.created_at < filters.until)
    if after is not None:
        query = query.where(tuple_(LlmLog.created_at, LlmLog.id) < tuple_(literal(after[0]), literal(after[1])))
    if not with_payloads:
        # The payloads are the bulk of a row (up to LLM_LOG_MAX_CHARS each): not read unless asked for.
        query = query.options(defer(LlmLog.request, raiseload=True), defer(LlmLog.response, raiseload=True))
    return list(session.scalars(query.order_by(LlmLog.created_at.desc(), LlmLog.id.desc()).limit(limit)))


def run_calls(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> list[LlmLog]:
    return list(session.scalars(scoped(ctx, LlmLog).where(LlmLog.run_id == run_id).order_by(LlmLog.id)))


@dataclass(frozen=True)
class RunCount:
    agent: str
    day: date
    status: str
    runs: int


@dataclass(frozen=True)
class RunLatency:
    agent: str
    day: date | None  # None: the whole period
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Usage:
    agent: str
    day: date
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


def _run_window(ctx: TenantContext, start: datetime, end: datetime, agent: str | None):
    conditions = [AgentRun.tenant_id == ctx.tenant_id, AgentRun.created_at >= start, AgentRun.created_at < end]
    if agent is not None:
        conditions.append(AgentRun.agent == agent)
    return and_(*conditions)


def _utc_day(column):
    return cast(func.timezone("UTC", column), Date)


def run_counts(session: Session, ctx: TenantContext, start: datetime, end: datetime,
               agent: str | None) -> list[RunCount]:
    day = _utc_day(AgentRun.created_at)
    rows = session.execute(
        select(AgentRun.agent, day, AgentRun.status, func.count())
        .where(_run_window(ctx, start, end, agent)).group_by(AgentRun.agent, day, AgentRun.status))
    return [RunCount(*row) for row in rows]


def run_latencies(session: Session, ctx: TenantContext, start: datetime, end: datetime,
                  agent: str | None) -> list[RunLatency]:
    day = _utc_day(AgentRun.created_at)
    seconds = func.extract("epoch", AgentRun.finished_at - AgentRun.started_at)
    percentiles = func.percentile_cont(array([0.5, 0.95])).within_group(seconds)
    rows = session.execute(
        select(AgentRun.agent, day, percentiles)
        .where(_run_window(ctx, start, end, agent), AgentRun.status.in_(FINISHED),
               AgentRun.started_at.is_not(None), AgentRun.finished_at.is_not(None))
        .group_by(func.grouping_sets(tuple_(AgentRun.agent, day), tuple_(AgentRun.agent))))
    return [RunLatency(name, bucket, *(p * 1000 if p is not None else None for p in (values or (None, None))))
            for name, bucket, values in rows]


def usage(session: Session, ctx: TenantContext, first: date, last: date, agent: str | None) -> list[Usage]:
    conditions = [LlmUsageDaily.tenant_id == ctx.tenant_id, LlmUsageDaily.day >= first, LlmUsageDaily.day <= last]
    if agent is not None:
        conditions.append(LlmUsageDaily.agent == agent)
    rows = session.execute(
        select(LlmUsageDaily.agent, LlmUsageDaily.day, func.sum(LlmUsageDaily.calls),
               func.sum(LlmUsageDaily.failed_calls), func.sum(LlmUsageDaily.input_tokens),
               func.sum(LlmUsageDaily.output_tokens), func.sum(LlmUsageDaily.cached_tokens),
               func.sum(LlmUsageDaily.cost_usd))
        .where(*conditions).group_by(LlmUsageDaily.agent, LlmUsageDaily.day))
    return [Usage(a, d, int(c), int(f), int(i), int(o), int(k), Decimal(cost)) for a, d, c, f, i, o, k, cost in rows]

