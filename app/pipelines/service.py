"""Pipelines: a lead's stages from the SDR run to the issued invoice and the client (app.pipelines.stages).

`advance` is the one way a pipeline moves. It locks the pipeline, reads where each stage stands from its
records (run, review, email), starts the next stage when one succeeded, and ends the pipeline with the
reason when one did not. It is idempotent and runs from durable signals: the `pipelines.advance` task,
enqueued through the outbox in the same transaction as whatever changed (a run's outcome, a decision,
an email's send), so no stage is lost when a process dies in between."""

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, Role, authorize
from app.core.context import Principal, TenantContext
from app.core.errors import AppError, Conflict
from app.core.metrics import PIPELINES_FINISHED
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import AgentRun, Client, Deal, EmailLog, Invoice, Lead, Pipeline, PipelineStage, Review
from app.pipelines.schemas import PipelineEventOut
from app.pipelines.stages import STAGES, STOP_REASONS, Stage
from app.pipelines.state import (
    FINISHED_STAGE, PIPELINE_END, PipelineStatus, StageStatus, check_pipeline, check_stage,
)
from app.reviews.registry import get_kind
from app.reviews.service import cancel_open_reviews, decision_of
from app.runs import service as runs
from app.runs.state import TERMINAL, RunStatus
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType

log = structlog.get_logger(__name__)
SPECS = {stage.name: stage for stage in STAGES}
P, S = PipelineStatus, StageStatus


def create_pipeline(session: Session, ctx: TenantContext, lead_id: uuid.UUID) -> Pipeline:
    """A new pipeline for the lead, its stages, and its first stage started, in the caller's transaction."""
    authorize(ctx, Permission.operate_runs)
    lead = get_or_404(session, ctx, Lead, lead_id, for_update=True, label="Lead")
    running = session.scalar(scoped(ctx, Pipeline).where(Pipeline.lead_id == lead.id,
                                                         Pipeline.status == P.running.value))
    if running is not None:
        raise Conflict(f"Lead {lead.id} already has a running pipeline ({running.id}).", pipeline_id=str(running.id))
    pipeline = Pipeline(id=uuid.uuid4(), tenant_id=ctx.tenant_id, lead_id=lead.id, status=P.running.value,
                        requested_by_type=ctx.principal.kind, requested_by_id=ctx.principal.id)
    session.add(pipeline)
    session.add_all(PipelineStage(tenant_id=ctx.tenant_id, pipeline_id=pipeline.id, position=position,
                                  name=stage.name, kind=stage.kind, status=S.pending.value)
                    for position, stage in enumerate(STAGES))
    session.flush()
    audit.record(session, ctx, "pipeline.start", "pipeline", pipeline.id, after={"lead_id": str(lead.id)})
    advance(session, ctx.tenant_id, pipeline.id)
    return pipeline


def stages_of(session: Session, pipeline_id: uuid.UUID) -> list[PipelineStage]:
    return list(session.scalars(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id)
                                .order_by(PipelineStage.position)))


def advance(session: Session, tenant_id: uuid.UUID, pipeline_id: uuid.UUID) -> str | None:
    """Move the pipeline as far as its records allow. Returns its status, or None if it does not exist."""
    pipeline = session.scalar(select(Pipeline).where(Pipeline.tenant_id == tenant_id, Pipeline.id == pipeline_id)
                              .with_for_update())
    if pipeline is None:
        return None
    if pipeline.status != P.running.value:
        return pipeline.status
    now = datetime.now(UTC)
    previous: PipelineStage | None = None
    last_run: PipelineStage | None = None
    stages = stages_of(session, pipeline.id)
    for stage in stages:
        spec = SPECS[stage.name]
        if stage.status == S.pending.value:
            _start(session, pipeline, stage, spec, previous, last_run, now)
        if stage.status == S.active.value:
            _evaluate(session, stage, spec, now)
        if stage.status == S.active.value:
            pipeline.current_stage = stage.name
            break
        if stage.status != S.succeeded.value:
            _end(session, pipeline, PIPELINE_END[StageStatus(stage.status)], _reason(stage), now)
            break
        previous = stage
        if spec.kind == "run":
            last_run = stage
    else:
        _end(session, pipeline, P.succeeded, None, now)
    session.flush()
    return pipeline.status


def _context(pipeline: Pipeline) -> TenantContext:
    """Stages run on behalf of whoever started the pipeline (the four-eyes rule sees them as the requester)."""
    return TenantContext(pipeline.tenant_id, Principal(pipeline.requested_by_type, pipeline.requested_by_id,  # type: ignore[arg-type]
                                                       Role.operator))


def _start(session: Session, pipeline: Pipeline, stage: PipelineStage, spec: Stage, previous: PipelineStage | None,
           last_run: PipelineStage | None, now: datetime) -> None:
    _move(stage, S.active, now)
    stage.waiting_for = spec.waiting_for
    if spec.kind == "run":
        if spec.input == "deal":
            deal = session.scalar(select(Deal).where(Deal.tenant_id == pipeline.tenant_id,
                                                     Deal.lead_id == pipeline.lead_id))
            if deal is None:
                _finish(stage, S.failed, now, reason="the lead has no deal")
                return
            payload = {"deal_id": str(deal.id)}
        else:
            payload = {"lead_id": str(pipeline.lead_id)}
        try:
            run = runs.create_run(session, _context(pipeline), spec.agent, payload,
                                  pipeline_id=pipeline.id, parent_run_id=last_run.run_id if last_run else None)
        except AppError as exc:  # refused at the door (the model budget is spent, say): the stage fails with why
            _finish(stage, S.failed, now, reason=f"the {spec.agent} run could not start: {exc.detail}")
            return
        stage.run_id = run.id
    elif spec.kind == "review":
        review = session.scalar(select(Review).where(
            Review.tenant_id == pipeline.tenant_id, Review.entity_type == spec.entity_type,
            Review.run_id == (last_run.run_id if last_run else None)))
        if review is None:
            _finish(stage, S.failed, now, reason=f"the {last_run.name if last_run else 'previous'} run opened no "
                                                  f"{spec.entity_type} review")
            return
        stage.review_id, stage.entity_id = review.id, review.entity_id
    elif spec.entity_type == "client":
        stage.entity_id = None  # found by the lead when it exists
    else:
        stage.entity_id = previous.entity_id if previous else None


def _evaluate(session: Session, stage: PipelineStage, spec: Stage, now: datetime) -> None:
    if spec.kind == "run":
        _evaluate_run(session, stage, spec, now)
    elif spec.kind == "review":
        _evaluate_review(session, stage, now)
    else:
        ACTIONS[spec.entity_type or ""](session, stage, now)


def _evaluate_run(session: Session, stage: PipelineStage, spec: Stage, now: datetime) -> None:
    run = session.get(AgentRun, stage.run_id)
    if run is None:
        _finish(stage, S.failed, now, reason="the stage's run was deleted")
        return
    status = RunStatus(run.status)
    if status in (RunStatus.succeeded, RunStatus.awaiting_review):
        stop = STOP_REASONS.get(spec.agent or "", lambda _: None)(run.output)
        if stop:
            _finish(stage, S.stopped, now, reason=stop)
        else:
            _finish(stage, S.succeeded, now)
    elif status in (RunStatus.failed, RunStatus.dead_lettered):
        message = (run.error or {}).get("message", "no error recorded")
        _finish(stage, S.failed, now, reason=f"the {spec.agent} run {status.value}: {message}")
    elif status is RunStatus.cancelled:
        _finish(stage, S.cancelled, now, reason=f"the {spec.agent} run was cancelled")
    elif status is RunStatus.rejected:
        _finish(stage, S.rejected, now, reason=f"the {spec.agent} run's output was rejected")
    else:
        stage.waiting_until = run.next_attempt_at if status is RunStatus.retry_scheduled else run.lease_expires_at


def _evaluate_review(session: Session, stage: PipelineStage, now: datetime) -> None:
    review = session.get(Review, stage.review_id)
    status = review.status if review is not None else "cancelled"
    if status in ("pending", "escalated"):
        stage.waiting_until = review.deadline_at
        stage.waiting_for = ("an admin to decide the escalated review" if status == "escalated"
                             else SPECS[stage.name].waiting_for)
    elif status in ("approved", "edited"):
        _finish(stage, S.succeeded, now, decision=status)
    elif status == "rejected":
        decision = decision_of(session, review)
        comment = decision.comment if decision is not None and decision.comment else "no comment"
        _finish(stage, S.rejected, now, reason=f"the {review.entity_type} was rejected by a reviewer: {comment}")
    elif status == "expired":
        _finish(stage, S.stopped, now, reason=f"the {review.entity_type} review expired at "
                                               f"{review.deadline_at.isoformat()} without a decision")
    else:
        _finish(stage, S.cancelled, now, reason=f"the {stage.name} review was cancelled")


def _evaluate_email(session: Session, stage: PipelineStage, now: datetime) -> None:
    email = session.get(EmailLog, stage.entity_id) if stage.entity_id else None
    status = email.status if email is not None else "missing"
    if status in ("draft", "approved"):
        stage.waiting_until = None
    elif status == "sent":
        _finish(stage, S.succeeded, now, message_id=email.message_id, sent_at=email.sent_at)
    elif status == "suppressed":
        _finish(stage, S.stopped, now, reason=f"{email.to_address} is on the suppression list; nothing was sent")
    elif status == "failed":
        _finish(stage, S.failed, now, reason=f"the email could not be sent: {email.error}")
    else:
        _finish(stage, S.cancelled, now, reason=f"the email is {status}")


def _evaluate_deal(session: Session, stage: PipelineStage, now: datetime) -> None:
    deal = session.get(Deal, stage.entity_id) if stage.entity_id else None
    stage_name = deal.stage if deal is not None else "missing"
    if stage_name in ("proposal", "negotiation"):
        open_offer = session.scalar(select(Review.deadline_at).where(
            Review.tenant_id == deal.tenant_id, Review.entity_type == "offer", Review.pipeline_id == deal.pipeline_id,
            Review.status.in_(("pending", "escalated"))).order_by(Review.deadline_at).limit(1))
        if open_offer is not None:
            stage.waiting_for, stage.waiting_until = "a reviewer to approve our counter-offer", open_offer
        else:
            stage.waiting_for, stage.waiting_until = SPECS[stage.name].waiting_for, None
    elif stage_name == "won":
        _finish(stage, S.succeeded, now, amount=str(deal.amount), currency=deal.currency)
    elif stage_name == "lost":
        _finish(stage, S.stopped, now, reason="the client walked away from the deal")
    else:
        _finish(stage, S.failed, now, reason="the deal was deleted")


def _evaluate_invoice(session: Session, stage: PipelineStage, now: datetime) -> None:
    invoice = session.get(Invoice, stage.entity_id) if stage.entity_id else None
    status = invoice.status if invoice is not None else "missing"
    if status == "draft":
        stage.waiting_until = None
    elif status == "issued":
        _finish(stage, S.succeeded, now, number=invoice.number, total_with_tax=str(invoice.total_with_tax),
                currency=invoice.currency)
    else:
        _finish(stage, S.stopped, now, reason=f"the invoice is {status}")


def _evaluate_client(session: Session, stage: PipelineStage, now: datetime) -> None:
    pipeline = session.get(Pipeline, stage.pipeline_id)
    client = session.scalar(select(Client).where(Client.tenant_id == pipeline.tenant_id,
                                                 Client.lead_id == pipeline.lead_id))
    if client is not None:
        stage.entity_id = client.id
        _finish(stage, S.succeeded, now, client_id=str(client.id))


# What an action stage waits on, by the entity type it names.
ACTIONS = {"email": _evaluate_email, "deal": _evaluate_deal, "invoice": _evaluate_invoice,
           "client": _evaluate_client}


def _move(stage: PipelineStage, target: StageStatus, now: datetime) -> None:
    check_stage(StageStatus(stage.status), target)
    stage.status = target.value
    if target is S.active:
        stage.started_at = now
    elif target in FINISHED_STAGE:
        stage.finished_at = now
        stage.waiting_for = stage.waiting_until = None


def _finish(stage: PipelineStage, target: StageStatus, now: datetime, *, reason: str | None = None,
            **detail: Any) -> None:
    _move(stage, target, now)
    values = {**detail, **({"reason": reason} if reason else {})}
    stage.detail = {key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in values.items()}


def _reason(stage: PipelineStage) -> str:
    return (stage.detail or {}).get("reason") or f"stage {stage.name} ended {stage.status}"


def _end(session: Session, pipeline: Pipeline, target: PipelineStatus, reason: str | None, now: datetime) -> None:
    check_pipeline(PipelineStatus(pipeline.status), target)
    pipeline.status, pipeline.stopped_reason, pipeline.finished_at = target.value, reason, now
    pipeline.current_stage = None
    PIPELINES_FINISHED.labels(target.value).inc()
    log.info("pipeline_finished", pipeline_id=str(pipeline.id), status=target.value, reason=reason)
    # Any end but success (stopped, rejected, failed, cancelled) is `pipeline.stopped`; `status` says which.
    event = EventType.pipeline_completed if target is PipelineStatus.succeeded else EventType.pipeline_stopped
    webhooks.emit(session, pipeline.tenant_id, event, {
        "pipeline_id": pipeline.id, "lead_id": pipeline.lead_id, "status": pipeline.status, "reason": reason,
        "finished_at": now})


def cancel_pipeline(session: Session, ctx: TenantContext, pipeline_id: uuid.UUID) -> Pipeline:
    """Cancel the pipeline, its unfinished runs (a running one is asked to stop), its open reviews and
    the email it has not sent yet."""
    pipeline = get_or_404(session, ctx, Pipeline, pipeline_id, for_update=True, label="Pipeline")
    authorize(ctx, Permission.operate_runs)
    check_pipeline(PipelineStatus(pipeline.status), P.cancelled)
    now = datetime.now(UTC)
    reason = f"cancelled by {ctx.principal.kind} {ctx.principal.id}"
    for run in session.scalars(scoped(ctx, AgentRun).where(AgentRun.pipeline_id == pipeline.id)
                               .order_by(AgentRun.id)):
        if RunStatus(run.status) not in TERMINAL and not run.cancel_requested:
            runs.cancel_run(session, ctx, run.id)
    cancel_open_reviews(session, ctx, pipeline_id=pipeline.id, reason="the pipeline was cancelled")
    for stage in stages_of(session, pipeline.id):
        if stage.kind == "action" and stage.status == S.active.value and stage.entity_id is not None:
            kind = get_kind(SPECS[stage.name].entity_type or "")
            if kind is not None:
                kind.discard(session, ctx, stage.entity_id, "the pipeline was cancelled")
        if stage.status in (S.pending.value, S.active.value):
            _finish(stage, S.cancelled, now, reason="the pipeline was cancelled")
    _end(session, pipeline, P.cancelled, reason, now)
    audit.record(session, ctx, "pipeline.cancel", "pipeline", pipeline.id, after={"status": pipeline.status})
    session.flush()
    return pipeline


def list_pipelines(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None = None,
                   status: PipelineStatus | None = None,
                   lead_id: uuid.UUID | None = None) -> tuple[list[tuple[Pipeline, Lead]], str | None]:
    """A page of pipelines, each with its lead (one joined query)."""
    query = newest_first(select(Pipeline, Lead).join(Lead, Lead.id == Pipeline.lead_id)
                         .where(Pipeline.tenant_id == ctx.tenant_id), Pipeline, limit, cursor)
    if status:
        query = query.where(Pipeline.status == status.value)
    if lead_id:
        query = query.where(Pipeline.lead_id == lead_id)
    found = [(pipeline, lead) for pipeline, lead in session.execute(query)]
    page = found[:limit]
    return page, next_cursor(found, limit)


def stages_by_pipeline(session: Session, ctx: TenantContext,
                       pipeline_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PipelineStage]]:
    """The stages of many pipelines, in order, in one query."""
    stages: dict[uuid.UUID, list[PipelineStage]] = {pipeline_id: [] for pipeline_id in pipeline_ids}
    for stage in session.scalars(scoped(ctx, PipelineStage).where(PipelineStage.pipeline_id.in_(pipeline_ids))
                                 .order_by(PipelineStage.pipeline_id, PipelineStage.position)):
        stages[stage.pipeline_id].append(stage)
    return stages


def get_pipeline(session: Session, ctx: TenantContext, pipeline_id: uuid.UUID) -> Pipeline:
    return get_or_404(session, ctx, Pipeline, pipeline_id, label="Pipeline")


def pipeline_events(session: Session, ctx: TenantContext, pipeline_id: uuid.UUID,
                    after_id: int = 0) -> list[PipelineEventOut]:
    """The pipeline's changes after the one numbered `after_id`, oldest first: each stage's start and end,
    then the pipeline's end. They are read from the stages' own times, with no table of their own: a stage
    starts only once the one before it has succeeded, and the pipeline ends with its last change, so
    numbering the changes by stage position numbers them in the order they were committed, and a stream
    can resume after any of them."""
    pipeline = get_pipeline(session, ctx, pipeline_id)
    # Read after the pipeline, so an ended pipeline's stages are read with every change it ended after.
    stages = stages_of(session, pipeline.id)
    events = []
    for stage in stages:
        common = {"stage": stage.name, "position": stage.position, "run_id": stage.run_id,
                  "review_id": stage.review_id, "entity_id": stage.entity_id}
        if stage.started_at is not None:
            events.append(PipelineEventOut(id=2 * stage.position + 1, from_status=S.pending, to_status=S.active,
                                           created_at=stage.started_at, **common))
        if stage.finished_at is not None:
            events.append(PipelineEventOut(
                id=2 * stage.position + 2, from_status=S.active if stage.started_at else S.pending,
                to_status=stage.status, detail=stage.detail, created_at=stage.finished_at, **common))
    if pipeline.finished_at is not None:
        events.append(PipelineEventOut(
            id=2 * len(stages) + 1, stage=None, position=None, from_status=P.running, to_status=pipeline.status,
            detail={"reason": pipeline.stopped_reason} if pipeline.stopped_reason else None,
            created_at=pipeline.finished_at))
    return [event for event in events if event.id > after_id]
