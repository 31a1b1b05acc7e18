import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.deps import Authorized, CurrentContext, DbSession, SessionFactory
from app.auth.permissions import Permission
from app.core import sse
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.idempotency import run_idempotently
from app.models import AgentRun, Lead, Pipeline, PipelineStage, Review
from app.pipelines import service
from app.pipelines.schemas import (
    LeadSummary, PipelineCreate, PipelineDetail, PipelineEventOut, PipelineListItem, PipelineOut, PipelinePage,
    StageOut, StageSummary,
)
from app.pipelines.state import PipelineStatus

router = APIRouter(tags=["pipelines"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _detail(session: Session, ctx: TenantContext, pipeline: Pipeline) -> PipelineDetail:
    """The pipeline with every stage, and the status of each stage's run and review (two queries)."""
    stages = service.stages_of(session, pipeline.id)
    run_ids = [s.run_id for s in stages if s.run_id]
    review_ids = [s.review_id for s in stages if s.review_id]
    run_status = dict(session.execute(select(AgentRun.id, AgentRun.status).where(
        AgentRun.tenant_id == ctx.tenant_id, AgentRun.id.in_(run_ids))).all()) if run_ids else {}
    review_status = dict(session.execute(select(Review.id, Review.status).where(
        Review.tenant_id == ctx.tenant_id, Review.id.in_(review_ids))).all()) if review_ids else {}
    detail = PipelineDetail.model_validate(pipeline)
    detail.stages = [StageOut.model_validate(stage).model_copy(update={
        "run_status": run_status.get(stage.run_id), "review_status": review_status.get(stage.review_id)})
        for stage in stages]
    return detail


@router.post("/pipeline/run", status_code=status.HTTP_202_ACCEPTED, response_model=PipelineDetail,
             responses={409: {"description": "The lead already has a running pipeline, or the key is in flight"}})
def start_pipeline(body: PipelineCreate, session: DbSession, ctx: Authorized[Permission.operate_runs],
                   idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Start the lead's pipeline: sdr → review email → send → sales → review proposal. The first stage's
    run is accepted in the same transaction; the rest follows as each stage ends."""
    def produce() -> tuple[int, dict]:
        pipeline = service.create_pipeline(session, ctx, body.lead_id)
        return status.HTTP_202_ACCEPTED, _detail(session, ctx, pipeline).model_dump(mode="json")

    result = run_idempotently(session, ctx, key=idempotency_key, scope="pipeline/run",
                              body=body.model_dump(mode="json"), produce=produce)
    session.commit()
    return JSONResponse(result.body, status_code=result.status, headers=result.headers)


@router.get("/pipelines", response_model=PipelinePage)
def list_pipelines(
    session: DbSession,
    ctx: Authorized[Permission.read],
    status_: Annotated[PipelineStatus | None, Query(alias="status")] = None,
    lead_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PipelinePage:
    """Newest first, each with its lead and the stage it is at (two queries whatever the page's size)."""
    pipelines, next_cursor = service.list_pipelines(session, ctx, limit=limit, cursor=cursor, status=status_,
                                                    lead_id=lead_id)
    stages = service.stages_by_pipeline(session, ctx, [pipeline.id for pipeline, _ in pipelines])
    return PipelinePage(items=[_list_item(pipeline, lead, stages[pipeline.id]) for pipeline, lead in pipelines],
                        next_cursor=next_cursor)


def _list_item(pipeline: Pipeline, lead: Lead, stages: list[PipelineStage]) -> PipelineListItem:
    started = [stage for stage in stages if stage.started_at is not None]
    return PipelineListItem(**PipelineOut.model_validate(pipeline).model_dump(), lead=LeadSummary.model_validate(lead),
                            stage=StageSummary.model_validate(started[-1]) if started else None,
                            stage_count=len(stages))


@router.get("/pipelines/{pipeline_id}", response_model=PipelineDetail)
def get_pipeline(pipeline_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> PipelineDetail:
    return _detail(session, ctx, service.get_pipeline(session, ctx, pipeline_id))


@router.get("/pipelines/{pipeline_id}/events", response_class=StreamingResponse, responses=sse.RESPONSES)
async def stream_pipeline_events(pipeline_id: uuid.UUID, request: Request, ctx: Authorized[Permission.read],
                                 factory: SessionFactory,
                                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None):
    """Each stage's start and end as an SSE `stage` event, then the pipeline's end as a `pipeline` event,
    after which the stream closes (id = the change's number, so a reconnect resumes with Last-Event-ID)."""
    await run_in_threadpool(_new_events, factory, ctx, pipeline_id, 0)  # 404 before the stream starts
    return sse.event_stream(request, lambda after: _new_events(factory, ctx, pipeline_id, after),
                            sse.last_event_id(last_event_id),
                            name=lambda event: "stage" if event.stage else "pipeline",
                            ends=lambda event: event.stage is None)


def _new_events(factory: sessionmaker[Session], ctx: TenantContext, pipeline_id: uuid.UUID,
                after: int) -> list[PipelineEventOut]:
    with session_scope(ctx.tenant_id, factory) as session:
        return service.pipeline_events(session, ctx, pipeline_id, after)


@router.post("/pipelines/{pipeline_id}/cancel", response_model=PipelineDetail)
def cancel_pipeline(pipeline_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> PipelineDetail:
    """Cancels the pipeline, its queued or running runs, its pending reviews and its unsent email."""
    pipeline = service.cancel_pipeline(session, ctx, pipeline_id)
    return _detail(session, ctx, pipeline)
