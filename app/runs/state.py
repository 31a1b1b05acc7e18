"""The run state machine, in one place. Every status change goes through `transition`, which refuses
illegal moves, applies the change with a conditional UPDATE (so two processes cannot both move a run
out of the same state) and appends the change to `run_events`."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.core.metrics import RUNS_FINISHED
from app.models import AgentRun, RunEvent


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
    values: dict[str, Any] = {"status": target.value, "updated_at": now, **fields}
    if target in TERMINAL or target is S.awaiting_review:
        values.setdefault("finished_at", now)
        values.update(lease_expires_at=None)
    conditions = [AgentRun.id == run.id, AgentRun.tenant_id == run.tenant_id, AgentRun.status == current.value]
    if current is S.running and "attempt" not in fields:
        # Fencing: only the attempt that holds the run may finish it.
        conditions.append(AgentRun.attempt == run.attempt)
    # One statement: the conditional UPDATE and, only if it matched, the event that records it.
    moved = update(AgentRun).where(*conditions).values(**values).returning(
        AgentRun.tenant_id, AgentRun.id, AgentRun.attempt).cte("moved")
    record = insert(RunEvent).from_select(
        ["tenant_id", "run_id", "from_status", "to_status", "attempt", "detail"],
        select(moved.c.tenant_id, moved.c.id, literal(current.value), literal(target.value), moved.c.attempt,
               literal(detail, JSONB)),
    ).returning(RunEvent.attempt)
    new_attempt = session.execute(record).scalar_one_or_none()
    if new_attempt is None:
        return False
    # The row is already written: update the loaded object without making it dirty (no second UPDATE).
    for key, value in {**values, "attempt": new_attempt}.items():
        set_committed_value(run, key, value)
    if target in TERMINAL:
        RUNS_FINISHED.labels(run.agent, target.value).inc()
    return True


def record_creation(session: Session, run: AgentRun) -> None:
    session.add(RunEvent(tenant_id=run.tenant_id, run_id=run.id, from_status=None, to_status=run.status,
                         attempt=run.attempt, detail=None))


def event_detail(**values: Any) -> dict[str, Any]:
    return {key: (str(value) if isinstance(value, uuid.UUID) else value) for key, value in values.items()
            if value is not None}
