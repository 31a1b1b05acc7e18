"""Executing one run on a worker: claim, heartbeat, steps, outcome.

A delivery first *claims* the run with one conditional UPDATE (queued/retry_scheduled → running,
attempt + 1, a lease). A duplicate delivery, or one for a run that already finished, claims nothing and
is a no-op. While the agent works, a heartbeat thread extends the lease; if the worker dies the lease
runs out and the reaper (app.runs.maintenance) schedules a retry or dead-letters the run. The attempt
number only ever grows (an operator's retry grants a fresh budget through `attempt_base`, never by
resetting it), so it identifies one execution: every heartbeat and outcome is written with it as a
fence, and an execution that lost its lease cannot extend it or overwrite the result of its successor.
"""

import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import structlog
from pydantic import ValidationError
from psycopg.types.json import Jsonb
from pydantic_core import to_jsonable_python
from sqlalchemy import Connection, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.agents.base import Agent
from app.agents.registry import get_agent, load_installed
from app.core import outbox
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import Script, driver_connection, get_engine, get_sessionmaker, script_connection, session_scope
from app.core.failpoints import failpoint
from app.core.metrics import RUN_DURATION, RUN_QUEUE_LATENCY, RUNS_FINISHED
from app.core.signals import (
    PIPELINE_ADVANCE_TASK, PIPELINE_QUEUE, RUN_OUTCOME_QUEUE, RUN_OUTCOME_TASK, advance_kwargs, run_outcome_kwargs,
)
from app.models import AgentRun, RunStep
from app.runs.errors import PermanentError, RunCancelled, RunError
from app.runs.service import schedule_execution
from app.runs.state import TERMINAL, RunStatus, event_detail, sources, stamped, transition, transition_params, transition_sql

log = structlog.get_logger(__name__)
T = TypeVar("T")
S = RunStatus


class LeaseLost(Exception):
    """Another attempt holds the run now; this execution stops and its result is discarded."""


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter (AWS architecture blog), never sooner than a Retry-After."""
    settings = get_settings()
    ceiling = min(settings.run_retry_max_seconds, settings.run_retry_base_seconds * 2 ** max(0, attempt - 1))
    return max(random.uniform(0, ceiling), retry_after or 0.0)


def error_record(exc: BaseException, *, retryable: bool) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "code": getattr(exc, "code", "unexpected_error"),
        "message": str(exc)[:4000] or type(exc).__name__,
        "retryable": retryable,
    }


# --- claiming ---------------------------------------------------------------------------------


def _tenant_lock_id(tenant_id: uuid.UUID) -> int:
    return int.from_bytes(tenant_id.bytes[:8], "big", signed=True) ^ 0x52554E53  # "RUNS"


@dataclass(frozen=True)
class Claimed:
    """The run as this attempt holds it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    agent: str
    input: dict[str, Any]
    attempt: int
    attempt_base: int
    max_attempts: int
    queued_at: datetime

    @property
    def budget_left(self) -> bool:
        """Whether a transient failure of this attempt may be retried."""
        return self.attempt - self.attempt_base < self.max_attempts


_CLAIM_COLUMNS = ("worker", "started_at", "heartbeat_at", "lease_expires_at", "next_attempt_at")
# One round trip (app.core.db.Script): the per-tenant advisory lock serialises claims so the concurrency
# cap cannot be overshot by two workers at once; then, in a new snapshot that sees every claim committed
# before the lock was granted, the claim itself. It matches only a run that is waiting for this delivery
# (queued or retry_scheduled, not cancelled, due) while the tenant is under its cap. The steps recorded
# by earlier attempts come back with it, whichever budget those attempts belonged to.
CLAIM = Script(
    "SELECT pg_advisory_xact_lock(%(lock)s);\n"
    + transition_sql(sources(S.running), S.running, _CLAIM_COLUMNS, fenced=False, new_attempt=True, condition="""
        AND NOT cancel_requested AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
        AND (SELECT count(*) FROM agent_runs WHERE tenant_id = %(tenant_id)s AND status = 'running') < %(cap)s""")
    + """SELECT m.id, m.tenant_id, m.agent, m.input, m.attempt, m.attempt_base, m.max_attempts, m.queued_at,
       (SELECT jsonb_object_agg(s.name, s.result) FROM run_steps s WHERE s.run_id = m.id)
FROM moved m""")


def claim(connection: Connection, run_id: uuid.UUID, tenant_id: uuid.UUID,
          worker: str) -> tuple[Claimed, dict[str, Any]] | None:
    """Claim the run for a new attempt: the run and the step results recorded by earlier attempts, or
    None when this delivery has nothing to do (a duplicate, an early one, a finished or cancelled run)."""
    settings = get_settings()
    now = datetime.now(UTC)
    values = {"worker": worker, "started_at": now, "heartbeat_at": now,
              "lease_expires_at": now + timedelta(seconds=settings.run_lease_seconds), "next_attempt_at": None}
    params = transition_params(run_id, tenant_id, now, values, event_detail(worker=worker),
                               lock=_tenant_lock_id(tenant_id), cap=settings.tenant_max_running_runs)
    rows = CLAIM.run(driver_connection(connection), tenant_id, params)
    if not rows:
        _not_claimed(connection, run_id, tenant_id, now)
        return None
    *fields, recorded = rows[0]
    run = Claimed(*fields)
    if run.attempt == 1:
        RUN_QUEUE_LATENCY.labels(run.agent).observe((now - run.queued_at).total_seconds())
    return run, recorded or {}


def _sessions_on(connection: Connection) -> Callable[[], Session]:
    """Sessions on the attempt's own connection (the same checkout as its scripts)."""
    return partial(get_sessionmaker(), bind=connection)


def _not_claimed(connection: Connection, run_id: uuid.UUID, tenant_id: uuid.UUID, now: datetime) -> None:
    """Nothing was claimed. A waiting run with a cancel requested is never claimed: it ends cancelled
    here. Any other run still waiting for this delivery found the tenant at its cap of running runs:
    deliver again a little later."""
    with session_scope(tenant_id, _sessions_on(connection)) as session:
        run = session.get(AgentRun, run_id, with_for_update=True)
        if run is None or run.status not in (S.queued, S.retry_scheduled):
            return
        if run.cancel_requested:
            transition(session, run, S.cancelled, detail=event_detail(action="cancel_requested"))
            return
        if run.next_attempt_at is not None and run.next_attempt_at > now:
            return
        run.updated_at = now
        schedule_execution(session, run, delay_seconds=random.uniform(0.5, 2.0))
        log.info("run_deferred_tenant_cap", run_id=str(run_id))


# --- the run context agents see ---------------------------------------------------------------


class Heartbeat:
    """The lease of one attempt. While started, the process's beater thread extends it every
    RUN_HEARTBEAT_SECONDS and notes whether the run was cancelled or taken over (lease lost)."""

    def __init__(self, run: Any):
        settings = get_settings()
        self.run_id, self.tenant_id, self.attempt = run.id, run.tenant_id, run.attempt
        self.interval, self.lease = settings.run_heartbeat_seconds, settings.run_lease_seconds
        self.cancelled, self.lost = threading.Event(), threading.Event()
        self.due = 0.0

    def start(self) -> None:
        self.due = time.monotonic() + self.interval
        _beater().add(self)

    def stop(self) -> None:
        _beater().discard(self)

    def beat(self) -> None:
        now = datetime.now(UTC)
        with session_scope(self.tenant_id) as session:
            cancel_requested = session.execute(
                update(AgentRun)
                .where(AgentRun.id == self.run_id, AgentRun.status == RunStatus.running.value,
                       AgentRun.attempt == self.attempt)
                .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=self.lease))
                .returning(AgentRun.cancel_requested)
            ).scalar_one_or_none()
        if cancel_requested is None:
            self.lost.set()
        elif cancel_requested:
            self.cancelled.set()


class _Beater(threading.Thread):
    """One thread per process beats every started Heartbeat when it is due: starting a thread per
    attempt cost a millisecond of wall time per run. Idle, it wakes every heartbeat interval, so a
    heartbeat started meanwhile (due one interval on) is never due before its next pass: starting one
    does not wake it, which spared a thread switch per run."""

    def __init__(self) -> None:
        super().__init__(name="heartbeats", daemon=True)
        self.pid = os.getpid()
        self.beating: set[Heartbeat] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.asleep_until = 0.0  # when the current wait ends; 0 while a pass is under way

    def add(self, heartbeat: Heartbeat) -> None:
        with self.lock:
            self.beating.add(heartbeat)
            early = heartbeat.due < self.asleep_until or not self.asleep_until
        if early:
            self.wake.set()

    def discard(self, heartbeat: Heartbeat) -> None:
        with self.lock:
            self.beating.discard(heartbeat)

    def run(self) -> None:
        idle = get_settings().run_heartbeat_seconds
        while True:
            self.wake.clear()  # before the snapshot: a heartbeat added after it wakes the wait below
            with self.lock:
                beating = list(self.beating)
                self.asleep_until = 0.0
            now = time.monotonic()
            for heartbeat in beating:
                if heartbeat.due <= now:
                    heartbeat.due = now + heartbeat.interval
                    try:
                        heartbeat.beat()
                    except Exception:  # a missed beat is survivable: the lease outlasts several intervals
                        log.warning("heartbeat_failed", run_id=str(heartbeat.run_id), exc_info=True)
            next_due = min((h.due for h in beating), default=now + idle)
            with self.lock:
                self.asleep_until = next_due
            self.wake.wait(max(0.0, next_due - time.monotonic()))


_beater_thread: _Beater | None = None
_beater_lock = threading.Lock()


def _beater() -> _Beater:
    """The process's beater, started on first use (and again in a forked child, which has no threads)."""
    global _beater_thread
    with _beater_lock:
        if _beater_thread is None or _beater_thread.pid != os.getpid() or not _beater_thread.is_alive():
            _beater_thread = _Beater()
            _beater_thread.start()
        return _beater_thread


_RECORD_STEP = Script("""
WITH recorded AS (
    INSERT INTO run_steps (id, tenant_id, run_id, name, result, attempt, started_at)
    VALUES (%(id)s, %(tenant_id)s, %(run_id)s, %(name)s, %(result)s, %(attempt)s, %(started_at)s)
    ON CONFLICT (run_id, name) DO NOTHING
    RETURNING result
)
SELECT result FROM recorded
UNION ALL
SELECT result FROM run_steps WHERE run_id = %(run_id)s AND name = %(name)s AND NOT EXISTS (SELECT FROM recorded)
""")
_STEP_RESULT = Script("SELECT result FROM run_steps WHERE run_id = %(run_id)s AND name = %(name)s")


@dataclass
class ExecutionContext:
    """The RunContext (app.agents.base) of one attempt."""

    run_id: uuid.UUID
    tenant_id: uuid.UUID
    agent: str
    attempt: int
    context: TenantContext
    heartbeat: Heartbeat
    # Makes the sessions steps write through: on the attempt's own connection (one checkout per attempt).
    factory: Callable[[], Session]
    # Results recorded by earlier attempts, loaded with the claim.
    recorded: dict[str, Any] = field(default_factory=dict)
    # The attempt's connection, for the steps that write nothing but their result (one round trip).
    connection: Connection | None = None

    def session(self) -> Session:
        session = get_sessionmaker()()
        session.info["tenant_id"] = self.tenant_id
        return session

    def check_cancelled(self) -> None:
        if self.heartbeat.lost.is_set():
            raise LeaseLost(f"run {self.run_id} is no longer held by attempt {self.attempt}")
        if self.heartbeat.cancelled.is_set():
            raise RunCancelled(f"run {self.run_id} was cancelled")

    def step_key(self, name: str) -> str:
        return f"{self.run_id}:{name}"

    def step(self, name: str, fn: Callable[[Session], T]) -> T:
        self.check_cancelled()
        if name in self.recorded:
            return self.recorded[name]
        started = datetime.now(UTC)
        session = self.factory()
        session.info["tenant_id"] = self.tenant_id
        try:
            result = to_jsonable_python(fn(session))
            if session.in_transaction():
                # The step wrote through its session: its result is recorded in that same transaction.
                session.add(RunStep(tenant_id=self.tenant_id, run_id=self.run_id, name=name, result=result,
                                    attempt=self.attempt, started_at=started))
                session.commit()
            else:
                result = self._record(name, result, started)
        except IntegrityError:
            # A zombie attempt recorded this step first; its result (and its writes) stand, ours rolled back.
            session.rollback()
            result = self._stored(name)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        failpoint(f"step.after.{name}")
        return result

    def _record(self, name: str, result: Any, started: datetime) -> Any:
        """Store a result in one round trip; if another attempt stored this step first, its result stands."""
        params = {"id": uuid.uuid4(), "run_id": self.run_id, "name": name, "result": Jsonb(result),
                  "attempt": self.attempt, "started_at": started}
        with self._connection() as connection:
            rows = _RECORD_STEP.run(connection, self.tenant_id, params)
            if not rows:  # the other attempt committed after this statement's snapshot was taken
                rows = _STEP_RESULT.run(connection, self.tenant_id, params)
        return rows[0][0]

    def _stored(self, name: str) -> Any:
        with self._connection() as connection:
            return _STEP_RESULT.run(connection, self.tenant_id, {"run_id": self.run_id, "name": name})[0][0]

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if self.connection is None:
            with script_connection() as connection:
                yield connection
        else:
            yield driver_connection(self.connection)


# --- executing --------------------------------------------------------------------------------


def execute(run_id: uuid.UUID, tenant_id: uuid.UUID, worker: str) -> str | None:
    """Execute one delivery of run `run_id`. Returns the status it ended in, or None if it claimed nothing."""
    structlog.contextvars.bind_contextvars(run_id=str(run_id), tenant_id=str(tenant_id))
    # Agents are imported before the lease starts: a first import can take longer than a lease.
    load_installed()
    with get_engine().connect() as connection:
        claimed = claim(connection, run_id, tenant_id, worker)
        if claimed is None:
            return None
        run, recorded = claimed
        agent = get_agent(run.agent)
        heartbeat = Heartbeat(run)
        heartbeat.start()
        ctx = ExecutionContext(run.id, run.tenant_id, run.agent, run.attempt, TenantContext.system(run.tenant_id),
                               heartbeat, _sessions_on(connection), recorded, connection)
        started = time.perf_counter()
        try:
            outcome = _run_agent(agent, ctx, run.input)
        finally:
            heartbeat.stop()
        RUN_DURATION.labels(agent.name, outcome[0]).observe(time.perf_counter() - started)
        if outcome[0] == "lease_lost":
            log.warning("run_lease_lost", attempt=run.attempt)
            return None
        return _record_outcome(connection, run, *outcome)


def _run_agent(agent: Agent, ctx: ExecutionContext, raw_input: dict[str, Any]) -> tuple[str, Any]:
    try:
        payload = agent.input_model.model_validate(raw_input)
        output = agent.run(ctx, payload)
        return ("review" if agent.needs_review(output) else "success", agent.output_json(output))
    except LeaseLost:
        return ("lease_lost", None)
    except RunCancelled:
        return ("cancelled", None)
    except ValidationError as exc:
        return ("permanent", error_record(PermanentError(f"invalid data: {exc}", code="invalid_input"), retryable=False))
    except RunError as exc:
        if exc.retryable:
            return ("transient", (error_record(exc, retryable=True), exc.retry_after))
        return ("permanent", error_record(exc, retryable=False))
    except Exception as exc:  # an unclassified failure may pass; retried, then dead-lettered for a human
        log.exception("run_unexpected_error")
        return ("transient", (error_record(exc, retryable=True), None))


# Outcomes are fenced: each matches only a run still running at this attempt, so a run that was
# cancelled, overridden or reaped meanwhile is simply not matched (no re-read needed).
_OUTCOME_COLUMNS = {
    S.succeeded: ("output", "error"),
    S.awaiting_review: ("output", "error"),
    S.failed: ("error",),
    S.cancelled: (),
}
_FINISH = {
    target: Script(transition_sql((S.running,), target, (*columns, "finished_at", "lease_expires_at"), fenced=True)
                   + "SELECT m.status, m.attempt, m.pipeline_id, (SELECT id FROM signal), (SELECT id FROM announcement) "
                     "FROM moved m")
    for target, columns in _OUTCOME_COLUMNS.items()
}


def _record_outcome(connection: Connection, run: Claimed, kind: str, value: Any) -> str | None:
    if kind == "transient":
        return _record_transient(connection, run, *value)
    if kind == "success":
        target, fields = S.succeeded, {"output": value, "error": None}
    elif kind == "review":
        target, fields = S.awaiting_review, {"output": value, "error": None}
    elif kind == "cancelled":
        target, fields = S.cancelled, {}
    else:
        target, fields = S.failed, {"error": value}
    now = datetime.now(UTC)
    params = transition_params(run.id, run.tenant_id, now, stamped(target, now, fields), None, held_attempt=run.attempt)
    rows = _FINISH[target].run(driver_connection(connection), run.tenant_id, params)
    if not rows:
        return _fenced(kind)
    if target in TERMINAL:
        RUNS_FINISHED.labels(run.agent, target.value).inc()
    _, attempt, pipeline_id, signal_id, announcement_id = rows[0]
    committed = []
    if signal_id is not None:
        committed.append(outbox.Pending(signal_id, PIPELINE_ADVANCE_TASK, PIPELINE_QUEUE,
                                        advance_kwargs(run.tenant_id, pipeline_id)))
    if announcement_id is not None:
        committed.append(outbox.Pending(announcement_id, RUN_OUTCOME_TASK, RUN_OUTCOME_QUEUE,
                                        run_outcome_kwargs(run.tenant_id, run.id, target.value, attempt)))
    if committed:
        _after_outcome(committed)
    return target.value


def _after_outcome(committed: list[outbox.Pending]) -> None:
    """Act on what the outcome's statement wrote to the outbox: the pipeline advanced here and now, the
    outcome announced (app.core.outbox.run_in_process). A crash before this leaves it to the outbox relay."""
    failpoint("run.after_outcome")
    outbox.dispatch(committed)


def _record_transient(connection: Connection, run: Claimed, error: dict[str, Any], retry_after: float | None) -> str | None:
    """A transient failure: cancelled if an operator asked for that meanwhile (a waiting run with a cancel
    requested is never claimed again), else running → retry_scheduled and the delayed delivery in one
    transaction (the outbox holds the delay) while the attempt budget lasts, else dead_lettered.
    The row is read FOR UPDATE, so a cancel committed while this runs is seen, or sees the new state."""
    with session_scope(run.tenant_id, _sessions_on(connection)) as session:
        held = session.get(AgentRun, run.id, with_for_update=True)
        if held is None or held.status != S.running or held.attempt != run.attempt:
            return _fenced("transient")
        if held.cancel_requested:
            transition(session, held, S.cancelled, error=error, detail=event_detail(action="cancel_requested"))
            return S.cancelled.value
        if not run.budget_left:
            transition(session, held, S.dead_lettered, error=error)
            return S.dead_lettered.value
        delay = backoff_seconds(run.attempt - run.attempt_base, retry_after)
        fields = {"error": error, "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay), "lease_expires_at": None}
        transition(session, held, S.retry_scheduled, detail=event_detail(delay_seconds=round(delay, 3)), **fields)
        schedule_execution(session, held, delay_seconds=delay)
    return S.retry_scheduled.value


def _fenced(kind: str) -> None:
    log.warning("run_outcome_discarded", reason="the run left this attempt (cancelled, overridden or reaped)",
                kind=kind)
