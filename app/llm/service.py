"""Reading model calls and agent metrics for the dashboard and the run detail."""

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.errors import BadRequest
from app.core.pagination import decode_cursor, next_cursor
from app.llm import repository
from app.llm.repository import FINISHED, LogFilters
from app.llm.schemas import AgentFigures, AgentMetrics, DayFigures, Latency, ModelCallPage, Tokens
from app.runs.schemas import ModelCall

MAX_METRICS_DAYS = 366
# Figures other packages add to each agent's metrics, by field of AgentFigures (app.reviews adds
# `reviews`: the decisions on the agent's output). Called with the tenant, the period [start, end) and
# the agent filter; returns {agent: figures}.
FiguresSource = Callable[[Session, TenantContext, datetime, datetime, str | None], dict[str, Any]]
_figure_sources: dict[str, FiguresSource] = {}


def register_figures(field: str, source: FiguresSource) -> FiguresSource:
    if field not in AgentFigures.model_fields:
        raise ValueError(f"AgentFigures has no field {field!r}")
    _figure_sources[field] = source
    return source


def list_model_calls(session: Session, ctx: TenantContext, filters: LogFilters, *, limit: int, cursor: str | None,
                     with_payloads: bool) -> ModelCallPage:
    rows = repository.log_page(session, ctx, filters, limit=limit + 1,
                               after=decode_cursor(cursor, int) if cursor else None, with_payloads=with_payloads)
    page = rows[:limit]
    # Without payloads the two columns were not loaded (and raise if touched): leave them out of the item.
    fields = ModelCall.model_fields.keys() - (set() if with_payloads else {"request", "response"})
    items = [ModelCall.model_validate({name: getattr(row, name) for name in fields}) for row in page]
    return ModelCallPage(items=items, next_cursor=next_cursor(rows, limit))


def run_model_calls(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> list[ModelCall]:
    """A run's model calls, oldest first, for GET /runs/{id}. The caller has fetched the run (404 first)."""
    return [ModelCall.model_validate(row) for row in repository.run_calls(session, ctx, run_id)]


class _Sum:
    def __init__(self) -> None:
        self.runs: dict[str, int] = defaultdict(int)
        self.calls = self.failed_calls = self.input = self.output = self.cached = 0
        self.cost = Decimal(0)
        self.latency = Latency(p50_ms=None, p95_ms=None)

    def figures(self) -> dict:
        ended = sum(self.runs.get(status, 0) for status in FINISHED)
        return dict(
            runs=dict(sorted(self.runs.items())), runs_total=sum(self.runs.values()),
            success_rate=round(self.runs.get("succeeded", 0) / ended, 4) if ended else None, latency=self.latency,
            model_calls=self.calls, failed_model_calls=self.failed_calls,
            tokens=Tokens(input=self.input, output=self.output, cached=self.cached), cost_usd=self.cost,
        )


def agent_metrics(session: Session, ctx: TenantContext, *, since: date | None, until: date | None,
                  agent: str | None) -> AgentMetrics:
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=29)
    if since > until:
        raise BadRequest("since must not be after until.")
    if (until - since).days + 1 > MAX_METRICS_DAYS:
        raise BadRequest(f"The period is limited to {MAX_METRICS_DAYS} days.")
    start = datetime.combine(since, time.min, UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, UTC)

    totals: dict[str, _Sum] = defaultdict(_Sum)
    days: dict[str, dict[date, _Sum]] = defaultdict(lambda: defaultdict(_Sum))
    for count in repository.run_counts(session, ctx, start, end, agent):
        totals[count.agent].runs[count.status] += count.runs
        days[count.agent][count.day].runs[count.status] += count.runs
    for latency in repository.run_latencies(session, ctx, start, end, agent):
        target = totals[latency.agent] if latency.day is None else days[latency.agent][latency.day]
        target.latency = Latency(p50_ms=latency.p50_ms, p95_ms=latency.p95_ms)
    for used in repository.usage(session, ctx, since, until, agent):
        for target in (totals[used.agent], days[used.agent][used.day]):
            target.calls += used.calls
            target.failed_calls += used.failed_calls
            target.input += used.input_tokens
            target.output += used.output_tokens
            target.cached += used.cached_tokens
            target.cost += used.cost_usd

    added = {field: source(session, ctx, start, end, agent) for field, source in _figure_sources.items()}
    names = sorted(set(totals).union(*(figures.keys() for figures in added.values())))
    return AgentMetrics(since=since, until=until, agents=[
        AgentFigures(agent=name, **totals[name].figures(), days=[
            DayFigures(day=day, **figures.figures()) for day, figures in sorted(days[name].items())],
            **{field: figures.get(name) for field, figures in added.items()})
        for name in names
    ])

