"""Runs: accept, list, read, and the operator's repairs (retry, cancel, override, dead-letter queue).

Accepting a run writes the row, its first event and an outbox record in the caller's transaction; the
task is published after that transaction commits (app.core.outbox).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, make_transient_to_detached

from app.agents.registry import get_agent, public_agent
from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core import outbox
from app.core.context import TenantContext
from app.core.db import driver_connection
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.core.metrics import RUNS_CREATED
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import AgentRun, RunEvent, RunStep
from app.runs import hooks
from app.runs.schemas import OverrideRequest, RunOut
from app.runs.state import OVERRIDE_TARGETS, TERMINAL, RunStatus, event_detail, transition

EXECUTE_TASK = "runs.execute"
RETRYABLE_BY_OPERATOR = frozenset({RunStatus.failed, RunStatus.dead_lettered, RunStatus.cancelled})


def validation_errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [
        {"field": ".".join([prefix, *(str(part) for part in e["loc"])]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


def create_run(session: Session, ctx: TenantContext, agent_name: str, payload: dict[str, Any], *,
               idempotency_key: str | None = None, parent_run_id: uuid.UUID | None = None,
               pipeline_id: uuid.UUID | None = None, public_only: bool = False) -> AgentRun:
    """`accept_run`, returning the run as a persistent, loaded object of `session`."""
    accepted = accept_run(session, ctx, agent_name, payload, idempotency_key=idempotency_key,
                          parent_run_id=parent_run_id, pipeline_id=pipeline_id, public_only=public_only)
    if accepted.replayed:
        return session.get(AgentRun, accepted.run["id"])
    run = AgentRun(**accepted.run)
    make_transient_to_detached(run)  # as if loaded: the row is written already, the flush has nothing to do
    session.add(run)
    return run


@dataclass(frozen=True)
class Accepted:
    run: dict[str, Any]  # every column of the run
    # The run is an earlier one, accepted with the same Idempotency-Key, agent and input.
    replayed: bool = False


def accept_run(session: Session, ctx: TenantContext, agent_name: str, payload: dict[str, Any], *,
               idempotency_key: str | None = None, parent_run_id: uuid.UUID | None = None,
               pipeline_id: uuid.UUID | None = None, public_only: bool = False) -> Accepted:
    """Accept a run: its row, its creation event, its outbox record and (when a person or an API key
    starts it) its audit entry, written by one statement in the caller's transaction (which must be
    bound to `ctx`'s tenant); the execution is published after that transaction commits
    (app.core.outbox).

    A run's `idempotency_key` is unique in its tenant, for as long as the run exists (the HTTP layer's
    record of the key expires sooner): the same key with the same agent and input is the run accepted
    before, replayed; with anything else it is a 422."""
    agent = public_agent(agent_name) if public_only else get_agent(agent_name)
    try:
        validated = agent.input_model.model_validate(payload)
    except ValidationError as exc:
        raise UnprocessableEntity(f"The input does not match the '{agent.name}' agent's input schema.",
                                  errors=validation_errors(exc, "input")) from exc
    hooks.check_admission(session, ctx, agent)
    run_input = validated.model_dump(mode="json")
    run_id = uuid.uuid4()
    kwargs = {"run_id": str(run_id), "tenant_id": str(ctx.tenant_id)}
    session.flush()  # rows this one refers to (a parent run, say) are written first, as the ORM would order them
    audited = ctx.principal.kind != "system"
    params = {
        "id": run_id, "tenant_id": ctx.tenant_id, "agent": agent.name, "status": RunStatus.queued.value,
        "input": Jsonb(run_input), "max_attempts": agent.max_attempts,
        "requested_by_type": ctx.principal.kind, "requested_by_id": ctx.principal.id,
        "pipeline_id": pipeline_id, "parent_run_id": parent_run_id, "idempotency_key": idempotency_key,
        "task": EXECUTE_TASK, "queue": agent.queue, "kwargs": Jsonb(kwargs), "audited": audited,
        "audit_after": Jsonb({"agent": agent.name, "status": RunStatus.queued.value, "attempt": 0}) if audited else None,
        "request_id": ctx.request_id,
    }
    statement = _ACCEPT if idempotency_key is None else _ACCEPT_KEYED
    try:
        with driver_connection(session.connection()).cursor() as cursor:
            row = cursor.execute(statement, params).fetchone()
    except psycopg.Error as exc:  # raised as the SQL layer raises it (a NUL in the input is a 422, say)
        raise DBAPIError.instance(statement, params, exc, psycopg.Error) from exc
    if row is None:  # the key is taken: by a run accepted earlier, whose record of the key has expired
        return _replay(session, ctx, agent.name, run_input, idempotency_key)
    created_at, updated_at, queued_at, outbox_id = row
    outbox.track(session, outbox_id, EXECUTE_TASK, agent.queue, kwargs)
    RUNS_CREATED.labels(agent.name).inc()
    return Accepted({
        "id": run_id, "tenant_id": ctx.tenant_id, "agent": agent.name, "status": RunStatus.queued.value,
        "input": run_input, "output": None, "error": None, "attempt": 0, "attempt_base": 0,
        "max_attempts": agent.max_attempts,
        "queued_at": queued_at, "started_at": None, "finished_at": None, "heartbeat_at": None,
        "lease_expires_at": None, "next_attempt_at": None, "worker": None,
        "requested_by_type": ctx.principal.kind, "requested_by_id": ctx.principal.id, "pipeline_id": pipeline_id,
        "parent_run_id": parent_run_id, "idempotency_key": idempotency_key, "overridden": False,
        "override_reason": None, "cancel_requested": False, "created_at": created_at, "updated_at": updated_at,
    })


def _replay(session: Session, ctx: TenantContext, agent: str, run_input: dict[str, Any], key: str) -> Accepted:
    earlier = session.execute(select(AgentRun.__table__).where(
        AgentRun.tenant_id == ctx.tenant_id, AgentRun.idempotency_key == key)).mappings().one()
    if earlier["agent"] != agent or earlier["input"] != run_input:
        raise UnprocessableEntity(
            f"This Idempotency-Key was already used for run {earlier['id']} of the '{earlier['agent']}' agent, "
            "with another agent or input; use a new key for a new run.", run_id=str(earlier["id"]))
    return Accepted(dict(earlier), replayed=True)


def _accept_sql(on_conflict: str) -> str:
    """The run, its creation event (from nothing to queued, attempt 0, no detail), its immediate outbox
    record and its audit entry, in one statement and one round trip, sent by psycopg itself (prepared
    once it is frequent). Row-level security checks each row against the transaction's tenant binding;
    the event's foreign key to the run is checked at the end of the statement, when the run is there.
    The others are written only if the run was (`FROM run`): with `on_conflict`, it may not be."""
    return f"""
WITH run AS (
    INSERT INTO agent_runs (id, tenant_id, agent, status, input, attempt, attempt_base, max_attempts,
                            requested_by_type, requested_by_id, pipeline_id, parent_run_id, idempotency_key,
                            overridden, cancel_requested)
    VALUES (%(id)s, %(tenant_id)s, %(agent)s, %(status)s, %(input)s, 0, 0, %(max_attempts)s, %(requested_by_type)s,
            %(requested_by_id)s, %(pipeline_id)s, %(parent_run_id)s, %(idempotency_key)s, false, false)
    {on_conflict}
    RETURNING created_at, updated_at, queued_at
), creation AS (
    INSERT INTO run_events (tenant_id, run_id, from_status, to_status, attempt, detail)
    SELECT %(tenant_id)s, %(id)s, NULL, %(status)s, 0, 'null'::jsonb FROM run
), message AS (
    INSERT INTO outbox (task, queue, kwargs, countdown_seconds, available_at, publish_attempts)
    SELECT %(task)s, %(queue)s, %(kwargs)s, 0, now(), 0 FROM run
    RETURNING id
), audit AS (
    INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, entity_type, entity_id, before, after, request_id)
    SELECT %(tenant_id)s, %(requested_by_type)s, %(requested_by_id)s, 'run.start', 'run', %(id)s::text, NULL,
           %(audit_after)s, %(request_id)s
    FROM run WHERE %(audited)s
)
SELECT run.created_at, run.updated_at, run.queued_at, message.id FROM run, message
"""


_ACCEPT = _accept_sql("")
# With an Idempotency-Key: a key already taken (by a run whose HTTP record expired, or on another agent's
# route) writes nothing, and the statement returns no row, instead of failing on the unique constraint.
_ACCEPT_KEYED = _accept_sql("ON CONFLICT (tenant_id, idempotency_key) DO NOTHING")


def schedule_execution(session: Session, run: AgentRun, *, delay_seconds: float = 0) -> None:
    outbox.enqueue(session, EXECUTE_TASK, get_agent(run.agent).queue,
                   {"run_id": str(run.id), "tenant_id": str(run.tenant_id)}, delay_seconds=delay_seconds)


# --- reads ------------------------------------------------------------------------------------


def list_runs(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None = None,
              agent: str | None = None, status: RunStatus | None = None, pipeline_id: uuid.UUID | None = None,
              created_from: datetime | None = None, created_to: datetime | None = None) -> tuple[list[AgentRun], str | None]:
    """Newest first, keyset-paginated on (created_at, id): every page is an index range scan, so page
    1000 costs what page 1 does."""
    query = newest_first(scoped(ctx, AgentRun), AgentRun, limit, cursor)
    if agent:
        query = query.where(AgentRun.agent == agent)
    if status:
        query = query.where(AgentRun.status == status.value)
    if pipeline_id:
        query = query.where(AgentRun.pipeline_id == pipeline_id)
    if created_from:
        query = query.where(AgentRun.created_at >= created_from)
    if created_to:
        query = query.where(AgentRun.created_at < created_to)
    runs = list(session.scalars(query))
    page = runs[:limit]
    return page, next_cursor(runs, limit)


def get_run(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> AgentRun:
    return get_or_404(session, ctx, AgentRun, run_id, label="Run")


def run_steps(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> list[RunStep]:
    return list(session.scalars(scoped(ctx, RunStep).where(RunStep.run_id == run_id).order_by(RunStep.finished_at)))


def run_events(session: Session, ctx: TenantContext, run_id: uuid.UUID, after_id: int = 0) -> list[RunEvent]:
    return list(session.scalars(
        scoped(ctx, RunEvent).where(RunEvent.run_id == run_id, RunEvent.id > after_id).order_by(RunEvent.id)))


# --- operator actions -------------------------------------------------------------------------


def _snapshot(run: AgentRun) -> dict[str, Any]:
    return RunOut.model_validate(run).model_dump(
        mode="json", include={"status", "attempt", "attempt_base", "output", "error", "overridden", "override_reason"})


def _requeue(session: Session, ctx: TenantContext, run: AgentRun, action: str) -> None:
    before = _snapshot(run)
    # A fresh budget of attempts; the attempt number itself goes on growing, so an execution from before
    # the retry can never match the fence of one after it, and the steps it recorded are reused.
    transition(session, run, RunStatus.queued, attempt_base=run.attempt, error=None, next_attempt_at=None,
               finished_at=None, cancel_requested=False, worker=None, queued_at=datetime.now(UTC),
               detail=event_detail(action=action, by=ctx.principal.id))
    schedule_execution(session, run)
    audit.record(session, ctx, action, "run", run.id, before=before, after=_snapshot(run))


def retry_run(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> AgentRun:
    run = get_or_404(session, ctx, AgentRun, run_id, for_update=True, label="Run")
    authorize(ctx, Permission.operate_runs)
    if RunStatus(run.status) not in RETRYABLE_BY_OPERATOR:
        raise Conflict(f"Only failed, dead-lettered or cancelled runs can be retried; this one is {run.status}.")
    _requeue(session, ctx, run, "run.retry")
    return run


def cancel_run(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> AgentRun:
    """Queued, scheduled and awaiting runs end at once; a running one is asked to stop and ends as
    cancelled at its next step boundary (or when the reaper finds its worker gone)."""
    run = get_or_404(session, ctx, AgentRun, run_id, for_update=True, label="Run")
    authorize(ctx, Permission.operate_runs)
    status = RunStatus(run.status)
    if status in TERMINAL:
        raise Conflict(f"The run has already finished ({run.status}).")
    before = _snapshot(run)
    if status is RunStatus.running:
        run.cancel_requested = True
        session.add(RunEvent(tenant_id=run.tenant_id, run_id=run.id, from_status=status.value,
                             to_status=status.value, attempt=run.attempt,
                             detail=event_detail(action="cancel_requested", by=ctx.principal.id)))
        session.flush()
    else:
        transition(session, run, RunStatus.cancelled, detail=event_detail(action="run.cancel", by=ctx.principal.id))
    audit.record(session, ctx, "run.cancel", "run", run.id, before=before, after=_snapshot(run))
    return run


def override_run(session: Session, ctx: TenantContext, run_id: uuid.UUID, body: OverrideRequest) -> AgentRun:
    run = get_or_404(session, ctx, AgentRun, run_id, for_update=True, label="Run")
    authorize(ctx, Permission.operate_runs)
    if body.status not in OVERRIDE_TARGETS:
        raise UnprocessableEntity("A manual override sets succeeded, failed or cancelled.")
    if body.status.value == run.status:
        raise Conflict(f"The run is already {run.status}.")
    output = run.output
    if body.status is RunStatus.succeeded:
        if body.output is None:
            raise UnprocessableEntity("An override to succeeded needs the output to record.")
        agent = get_agent(run.agent)
        try:
            output = agent.output_json(agent.output_model.model_validate(body.output))
        except ValidationError as exc:
            raise UnprocessableEntity(f"The output does not match the '{agent.name}' agent's output schema.",
                                      errors=validation_errors(exc, "output")) from exc
    before = _snapshot(run)
    transition(session, run, body.status, override=True, overridden=True, override_reason=body.reason,
               output=output, cancel_requested=False,
               detail=event_detail(action="run.manual_override", by=ctx.principal.id, reason=body.reason))
    audit.record(session, ctx, "run.manual_override", "run", run.id, before=before, after=_snapshot(run))
    return run


def _dead_letters(session: Session, ctx: TenantContext, run_ids: list[uuid.UUID], verb: str) -> list[AgentRun]:
    """The runs named (each once, in the order given), locked. All or nothing: unless every id is a
    dead-lettered run of this tenant, nothing is `verb`."""
    wanted = list(dict.fromkeys(run_ids))
    runs = {run.id: run for run in session.scalars(
        scoped(ctx, AgentRun).where(AgentRun.id.in_(wanted)).order_by(AgentRun.id).with_for_update())}
    missing = [str(run_id) for run_id in wanted if run_id not in runs]
    if missing:
        raise NotFound(f"{len(missing)} run(s) were not found; nothing was {verb}.", missing=missing)
    not_dead = [str(run.id) for run in runs.values() if run.status != RunStatus.dead_lettered]
    if not_dead:
        raise Conflict(f"{len(not_dead)} run(s) are not in the dead-letter queue; nothing was {verb}.",
                       not_dead_lettered=not_dead)
    return [runs[run_id] for run_id in wanted]


def retry_dead_lettered(session: Session, ctx: TenantContext, run_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """All or nothing: every id must be a dead-lettered run of this tenant, or nothing is retried."""
    runs = _dead_letters(session, ctx, run_ids, "retried")
    for run in runs:
        _requeue(session, ctx, run, "dlq.retry")
    return [run.id for run in runs]


def discard_dead_lettered(session: Session, ctx: TenantContext, run_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """All or nothing: every id must be a dead-lettered run of this tenant, or nothing is discarded."""
    runs = _dead_letters(session, ctx, run_ids, "discarded")
    for run in runs:
        _discard(session, ctx, run)
    return [run.id for run in runs]


def discard_dead_letter(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> AgentRun:
    run = get_or_404(session, ctx, AgentRun, run_id, for_update=True, label="Run")
    authorize(ctx, Permission.operate_runs)
    if run.status != RunStatus.dead_lettered:
        raise Conflict(f"The run is not in the dead-letter queue ({run.status}).")
    _discard(session, ctx, run)
    return run


def _discard(session: Session, ctx: TenantContext, run: AgentRun) -> None:
    """Give up on a dead-lettered run: it becomes failed, marked discarded (and may still be retried)."""
    before = _snapshot(run)
    error = {**(run.error or {}), "discarded": True}
    transition(session, run, RunStatus.failed, error=error,
               detail=event_detail(action="dlq.discard", by=ctx.principal.id))
    audit.record(session, ctx, "dlq.discard", "run", run.id, before=before, after=_snapshot(run))
