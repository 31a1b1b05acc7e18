import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from app.agents.registry import all_agents
from app.auth.deps import Authorized, CurrentContext, DbSession, SessionFactory
from app.auth.permissions import Permission
from app.core import sse
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.idempotency import IdempotentResponse, run_idempotently
from app.runs import hooks, service
from app.runs.schemas import (
    AgentOut, DlqDiscardResult, DlqRequest, DlqRetryResult, EventOut, OverrideRequest, RunCreate, RunDetail, RunOut,
    RunPage, StepOut,
)
from app.runs.state import TERMINAL, RunStatus

router = APIRouter(tags=["runs"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


@router.post("/agents/{agent}/run", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut,
             responses={409: {"description": "The same Idempotency-Key is still in flight"},
                        422: {"description": "Invalid input, or an Idempotency-Key reused with another body"}})
def start_run(agent: str, body: RunCreate, session: DbSession, ctx: Authorized[Permission.operate_runs],
              idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def produce() -> tuple[int, dict]:
        accepted = service.accept_run(session, ctx, agent, body.input, idempotency_key=idempotency_key,
                                      public_only=True)
        response = RunOut.model_validate(accepted.run).model_dump(mode="json")
        return IdempotentResponse(status.HTTP_202_ACCEPTED, response, replayed=accepted.replayed)

    result = run_idempotently(session, ctx, key=idempotency_key, scope=f"agents/{agent}/run",
                              body=body.model_dump(mode="json") if idempotency_key is not None else None,
                              produce=produce)
    # Committed here, in this handler's worker thread, rather than by the session's end in another one:
    # the 202 still leaves only after the commit.
    session.commit()
    return JSONResponse(result.body, status_code=result.status, headers=result.headers)


@router.get("/agents", response_model=list[AgentOut])
def list_agents(ctx: Authorized[Permission.read]) -> list[AgentOut]:
    """The installed agents, by name."""
    return [AgentOut(name=agent.name, description=agent.description, queue=agent.queue, public=agent.public,
                     uses_models=agent.uses_models, may_need_review=agent.may_need_review,
                     prompt_keys=list(agent.prompt_keys), input_schema=agent.input_model.model_json_schema())
            for agent in sorted(all_agents(), key=lambda agent: agent.name)]


@router.get("/runs", response_model=RunPage)
def list_runs(
    session: DbSession,
    ctx: Authorized[Permission.read],
    agent: str | None = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    pipeline_id: uuid.UUID | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunPage:
    runs, next_cursor = service.list_runs(session, ctx, limit=limit, cursor=cursor, agent=agent, status=status_,
                                          pipeline_id=pipeline_id, created_from=created_from, created_to=created_to)
    return RunPage(items=[RunOut.model_validate(run) for run in runs], next_cursor=next_cursor)


@router.get("/runs/{run_id}", response_model=RunDetail)
def read_run(run_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> RunDetail:
    run = service.get_run(session, ctx, run_id)
    return RunDetail(
        **RunOut.model_validate(run).model_dump(),
        steps=[StepOut.model_validate(step) for step in service.run_steps(session, ctx, run_id)],
        events=[EventOut.model_validate(event) for event in service.run_events(session, ctx, run_id)],
        model_calls=hooks.model_calls(session, ctx, run_id),
    )


@router.post("/runs/{run_id}/retry", response_model=RunOut)
def retry_run(run_id: uuid.UUID, session: DbSession, ctx: CurrentContext):
    return service.retry_run(session, ctx, run_id)


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: uuid.UUID, session: DbSession, ctx: CurrentContext):
    return service.cancel_run(session, ctx, run_id)


@router.post("/runs/{run_id}/manual-override", response_model=RunOut)
def override_run(run_id: uuid.UUID, body: OverrideRequest, session: DbSession, ctx: CurrentContext):
    return service.override_run(session, ctx, run_id, body)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse, responses=sse.RESPONSES)
async def stream_run_events(run_id: uuid.UUID, request: Request, ctx: Authorized[Permission.read],
                            factory: SessionFactory,
                            last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None):
    """Each state change as an SSE `state` event (id = event id, so a reconnect resumes with
    Last-Event-ID); the stream closes after the run reaches a terminal state."""
    await run_in_threadpool(_load_run, factory, ctx, run_id)  # 404 before the stream starts
    return sse.event_stream(request, lambda after: _new_events(factory, ctx, run_id, after),
                            sse.last_event_id(last_event_id), name=lambda _: "state",
                            ends=lambda event: event.to_status in TERMINAL)


def _load_run(factory: sessionmaker[Session], ctx: TenantContext, run_id: uuid.UUID) -> None:
    with session_scope(ctx.tenant_id, factory) as session:
        service.get_run(session, ctx, run_id)


def _new_events(factory: sessionmaker[Session], ctx: TenantContext, run_id: uuid.UUID, after: int) -> list[EventOut]:
    with session_scope(ctx.tenant_id, factory) as session:
        return [EventOut.model_validate(e) for e in service.run_events(session, ctx, run_id, after)]


@router.get("/dlq", response_model=RunPage)
def list_dead_letters(session: DbSession, ctx: Authorized[Permission.read], agent: str | None = None,
                      cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RunPage:
    runs, next_cursor = service.list_runs(session, ctx, limit=limit, cursor=cursor, agent=agent,
                                          status=RunStatus.dead_lettered)
    return RunPage(items=[RunOut.model_validate(run) for run in runs], next_cursor=next_cursor)


@router.post("/dlq/retry", response_model=DlqRetryResult)
def retry_dead_letters(body: DlqRequest, session: DbSession,
                       ctx: Authorized[Permission.operate_runs]) -> DlqRetryResult:
    return DlqRetryResult(retried=service.retry_dead_lettered(session, ctx, body.run_ids))


@router.post("/dlq/discard", response_model=DlqDiscardResult)
def discard_dead_letters(body: DlqRequest, session: DbSession,
                         ctx: Authorized[Permission.operate_runs]) -> DlqDiscardResult:
    return DlqDiscardResult(discarded=service.discard_dead_lettered(session, ctx, body.run_ids))


@router.post("/dlq/{run_id}/discard", response_model=RunOut)
def discard_dead_letter(run_id: uuid.UUID, session: DbSession, ctx: CurrentContext):
    return service.discard_dead_letter(session, ctx, run_id)
