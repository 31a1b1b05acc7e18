"""The run state machine, in one place. Every status change goes through `transition`, which refuses
illegal moves, applies the change with a conditional UPDATE (so two processes cannot both move a run
out of the same state) and appends the change to `run_events`."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.core import outbox
from app.core.metrics import RUNS_FINISHED
from app.core.signals import (
    PIPELINE_ADVANCE_TASK, PIPELINE_QUEUE, RUN_OUTCOME_QUEUE, RUN_OUTCOME_TASK, advance_kwargs, advance_pending,
    run_outcome_kwargs,
)
from app.models import AgentRun


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    retry_scheduled = "retry_scheduled"
    awaiting_review = "awaiting_review"
    succeeded = "succeeded"
    failed = "failed"
    dead_lettered = "dead_lettered"
    cancelled = "cancelled"
    rejected = "rejected"


S = RunStatus
TERMINAL = frozenset({S.succeeded, S.failed, S.dead_lettered, S.cancelled, S.rejected})

TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    S.queued: frozenset({S.running, S.cancelled}),
    S.running: frozenset({S.succeeded, S.failed, S.retry_scheduled, S.dead_lettered, S.awaiting_review, S.cancelled}),
    S.retry_scheduled: frozenset({S.running, S.cancelled, S.dead_lettered}),
    S.awaiting_review: frozenset({S.succeeded, S.rejected, S.cancelled}),
    # Operators may send a finished run round again (retry); a dead-lettered one may also be discarded.
    S.failed: frozenset({S.queued}),
    S.dead_lettered: frozenset({S.queued, S.failed}),
    S.cancelled: frozenset({S.queued}),
    S.succeeded: frozenset(),
    S.rejected: frozenset(),
}
# A manual override may set these from any state other than the same one.
OVERRIDE_TARGETS = frozenset({S.succeeded, S.failed, S.cancelled})


class IllegalTransition(Exception):
    def __init__(self, current: RunStatus, target: RunStatus):
        super().__init__(f"a run cannot go from {current} to {target}")
        self.current, self.target = current, target


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    return target in TRANSITIONS[current]


def transition(session: Session, run: AgentRun, target: RunStatus, *, expected: RunStatus | None = None,
               override: bool = False, detail: dict[str, Any] | None = None, **fields: Any) -> bool:
    """Move `run` to `target` if it is still in `expected` (default: its loaded status).

    Returns False, changing nothing, when another process moved the run first. `fields` are other
    columns to set in the same UPDATE. Terminal states stamp `finished_at` and clear the lease.
    """
    current = RunStatus(expected or run.status)
    if override:
        if target not in OVERRIDE_TARGETS or target == current:
            raise IllegalTransition(current, target)
    elif not can_transition(current, target):
        raise IllegalTransition(current, target)
    now = datetime.now(UTC)
    values = stamped(target, now, fields)
    # Fencing: only the attempt that holds the run may finish it.
    fenced = current is S.running and "attempt" not in fields
    sql = transition_sql((current,), target, tuple(values), fenced=fenced, legal_only=not override)
    params = transition_params(run.id, run.tenant_id, now, values, detail, held_attempt=run.attempt if fenced else None,
                               signal=not advance_pending(session, run.pipeline_id))
    session.flush()  # pending ORM changes go first, as an ORM statement would have autoflushed them
    row = session.connection().exec_driver_sql(
        sql + "SELECT m.attempt, (SELECT id FROM signal), (SELECT id FROM announcement) FROM moved m", params).first()
    if row is None:
        return False
    new_attempt, signal_id, announcement_id = row
    if signal_id is not None:
        outbox.track(session, signal_id, PIPELINE_ADVANCE_TASK, PIPELINE_QUEUE,
                     advance_kwargs(run.tenant_id, run.pipeline_id))
    if announcement_id is not None:
        outbox.track(session, announcement_id, RUN_OUTCOME_TASK, RUN_OUTCOME_QUEUE,
                     run_outcome_kwargs(run.tenant_id, run.id, target.value, new_attempt))
    # The row is already written: update the loaded object without making it dirty (no second UPDATE).
    for key, value in {**values, "status": target.value, "updated_at": now, "attempt": new_attempt}.items():
        set_committed_value(run, key, value)
    if target in TERMINAL:
        RUNS_FINISHED.labels(run.agent, target.value).inc()
    return True


# --- the SQL of a transition, shared by the ORM path above and the workers' one-round-trip scripts ---

_JSON_COLUMNS = frozenset({"input", "output", "error"})
_SETTABLE = frozenset(c.name for c in AgentRun.__table__.columns) - {"id", "tenant_id", "status", "updated_at"}


def stamped(target: RunStatus, now: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    """The columns a move to `target` sets besides status: `fields`, and for a finished run (or one
    waiting for review) `finished_at` and a cleared lease."""
    values = dict(fields)
    if target in TERMINAL or target is S.awaiting_review:
        values.setdefault("finished_at", now)
        values["lease_expires_at"] = None
    return values


def sources(target: RunStatus) -> tuple[RunStatus, ...]:
    """Every state from which `target` can be reached."""
    return tuple(state for state in RunStatus if target in TRANSITIONS[state])


@lru_cache(maxsize=256)
def transition_sql(from_states: tuple[RunStatus, ...], target: RunStatus, columns: tuple[str, ...], *,
                   fenced: bool, condition: str = "", legal_only: bool = True, new_attempt: bool = False) -> str:
    """`WITH prior, moved, event`: lock the run if it is in one of `from_states` (and, if `fenced`, still
    at attempt %(held_attempt)s, and `condition` holds), move it to `target` setting `columns`, and append
    its event, in one statement; a run of a pipeline reaching a terminal state or awaiting_review also
    writes the pipeline's advance signal (`signal`: its outbox id), and one that succeeded, failed or was
    dead-lettered its announcement (`announcement`: its outbox id) when its tenant wants that. The caller
    appends what to return `FROM moved` (one row, or none if the run was elsewhere). `new_attempt`
    increments the attempt (a claim). Parameters: run_id, tenant_id, now, detail, held_attempt, signal,
    one per column."""
    if legal_only:
        for state in from_states:
            if not can_transition(state, target):
                raise IllegalTransition(state, target)
    unknown = set(columns) - _SETTABLE
    if unknown:
        raise ValueError(f"not columns of agent_runs: {sorted(unknown)}")
    states = ", ".join(f"'{state.value}'" for state in from_states)
    sets = ", ".join([f"status = '{target.value}'", "updated_at = %(now)s", *(f"{c} = %({c})s" for c in columns),
                      *(["attempt = r.attempt + 1"] if new_attempt else [])])
    fence = "AND attempt = %(held_attempt)s" if fenced else ""
    nothing = "SELECT NULL::bigint AS id"
    signal = _PIPELINE_SIGNAL if target in TERMINAL or target is S.awaiting_review else nothing
    announcement = _OUTCOME_ANNOUNCEMENT if target in ANNOUNCED else nothing
    return f"""
WITH prior AS (
    SELECT id, status FROM agent_runs
    WHERE id = %(run_id)s AND tenant_id = %(tenant_id)s AND status IN ({states}) {fence} {condition}
    FOR UPDATE
), moved AS (
    UPDATE agent_runs r SET {sets} FROM prior WHERE r.id = %(run_id)s AND r.id = prior.id
    RETURNING r.*, prior.status AS from_status
), event AS (
    INSERT INTO run_events (tenant_id, run_id, from_status, to_status, attempt, detail)
    SELECT tenant_id, id, from_status, status, attempt, %(detail)s::jsonb FROM moved
), signal AS (
    {signal}
), announcement AS (
    {announcement}
)
"""


# A run of a pipeline that finishes (or waits for its review) signals its pipeline in the same statement:
# the advance is as durable as the outcome (app.core.signals; the outbox publishes it after commit).
_PIPELINE_SIGNAL = f"""INSERT INTO outbox (task, queue, kwargs, countdown_seconds, available_at, publish_attempts)
    SELECT '{PIPELINE_ADVANCE_TASK}', '{PIPELINE_QUEUE}',
           jsonb_build_object('pipeline_id', pipeline_id::text, 'tenant_id', tenant_id::text), 0, now(), 0
    FROM moved WHERE pipeline_id IS NOT NULL AND %(signal)s
    RETURNING id"""


# A run that succeeded, failed or was dead-lettered is announced in the same statement, to the tenant's webhooks,
# when the tenant wants that (`tenants.announce_run_outcomes`, kept by app.webhooks): a join on the tenant's
# row is all it costs the others.
ANNOUNCED = frozenset({S.succeeded, S.failed, S.dead_lettered})
_OUTCOME_ANNOUNCEMENT = f"""INSERT INTO outbox (task, queue, kwargs, countdown_seconds, available_at, publish_attempts)
    SELECT '{RUN_OUTCOME_TASK}', '{RUN_OUTCOME_QUEUE}',
           jsonb_build_object('run_id', m.id::text, 'tenant_id', m.tenant_id::text, 'status', m.status,
                              'attempt', m.attempt), 0, now(), 0
    FROM moved m JOIN tenants t ON t.id = m.tenant_id WHERE t.announce_run_outcomes
    RETURNING id"""


def transition_params(run_id: uuid.UUID, tenant_id: uuid.UUID, now: datetime, values: dict[str, Any],
                      detail: dict[str, Any] | None, *, held_attempt: int | None = None, **extra: Any) -> dict[str, Any]:
    params = {key: Jsonb(value) if key in _JSON_COLUMNS and value is not None else value
              for key, value in values.items()}
    return {**params, "signal": True, **extra, "run_id": run_id, "tenant_id": tenant_id, "now": now, "held_attempt": held_attempt,
            "detail": Jsonb(detail) if detail is not None else None}


def event_detail(**values: Any) -> dict[str, Any]:
    return {key: (str(value) if isinstance(value, uuid.UUID) else value) for key, value in values.items()
            if value is not None}
