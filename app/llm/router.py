import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.llm import service
from app.llm.repository import LogFilters
from app.llm.schemas import AgentMetrics, ModelCallPage
from app.runs.schemas import LogStatus

router = APIRouter(tags=["llm"])


@router.get("/logs/agents", response_model=ModelCallPage, summary="Model calls of the tenant's agents, newest first")
def list_model_calls(
    session: DbSession,
    ctx: Authorized[Permission.read],
    run_id: uuid.UUID | None = None,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    provider: Annotated[str | None, Query(max_length=32)] = None,
    status: LogStatus | None = None,
    since: Annotated[datetime | None, Query(description="Inclusive")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive")] = None,
    with_payloads: Annotated[bool, Query(description="Include the redacted request and response")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ModelCallPage:
    filters = LogFilters(run_id=run_id, agent=agent, provider=provider, status=status, since=since, until=until)
    return service.list_model_calls(session, ctx, filters, limit=limit, cursor=cursor, with_payloads=with_payloads)


# A period is moved by a day (its exclusive end) and by up to a longest period (its default start): days at
# the calendar's edges, where that is impossible, are invalid input, not a server error.
_FIRST_DAY = date.min + timedelta(days=service.MAX_METRICS_DAYS)
_LAST_DAY = date.max - timedelta(days=1)


@router.get("/metrics/agents", response_model=AgentMetrics, summary="Per agent: runs, success rate, latency, tokens, cost")
def agent_metrics(
    session: DbSession,
    ctx: Authorized[Permission.read],
    since: Annotated[date | None, Query(ge=_FIRST_DAY, le=_LAST_DAY,
                                        description="First UTC day, inclusive; default: 29 days before until")] = None,
    until: Annotated[date | None, Query(ge=_FIRST_DAY, le=_LAST_DAY,
                                        description="Last UTC day, inclusive; default: today")] = None,
    agent: Annotated[str | None, Query(max_length=64)] = None,
) -> AgentMetrics:
    return service.agent_metrics(session, ctx, since=since, until=until, agent=agent)
