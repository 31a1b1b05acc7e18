"""Executing one run on a worker: claim, heartbeat, steps, outcome.

A delivery first *claims* the run with one conditional UPDATE (queued/retry_scheduled → running,
attempt + 1, a lease). A duplicate delivery, or one for a run that already finished, claims nothing and
is a no-op. While the agent works, a heartbeat thread extends the lease; if the worker dies the lease
runs out and the reaper (app.runs.maintenance) schedules a retry or dead-letters the run. Every outcome
is written with the run's attempt as a fence, so a worker that lost its lease cannot overwrite the
result of the attempt that replaced it.
"""

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.agents.base import Agent
from app.agents.registry import get_agent
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import get_engine, get_sessionmaker, session_scope
from app.core.failpoints import failpoint
from app.core.metrics import RUN_DURATION, RUN_QUEUE_LATENCY
from app.models import AgentRun, RunStep
from app.runs.errors import PermanentError, RunCancelled, RunError
from app.runs.service import schedule_execution
from app.runs.state import RunStatus, event_detail, transition

log = structlog.get_logger(__name__)
T = TypeVar("T")
CLAIMABLE = (RunStatus.queued.value, RunStatus.retry_scheduled.value)


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


def claim(session: Session, run_id: uuid.UUID, worker: str) -> AgentRun | None:
    run = session.get(AgentRun, run_id)
    now = datetime.now(UTC)
    if run is None or run.status not in CLAIMABLE or run.cancel_requested:
        return None
    if run.next_attempt_at is not None and run.next_attempt_at > now:
        return None  # an early duplicate; the delayed message for this retry is still to come
    settings = get_settings()
    # Serialise claims per tenant so the concurrency cap cannot be overshot by two workers at once.
    session.execute(select(func.pg_advisory_xact_lock(_tenant_lock_id(run.tenant_id))))
    running = session.scalar(select(func.count()).select_from(AgentRun).where(
        AgentRun.tenant_id == run.tenant_id, AgentRun.status == RunStatus.running.value))
    if running >= settings.tenant_max_running_runs:
        run.updated_at = now
        schedule_execution(session, run, delay_seconds=random.uniform(0.5, 2.0))
        log.info("run_deferred_tenant_cap", run_id=str(run_id), running=running)
        return None
    claimed = transition(
        session, run, RunStatus.running, expected=RunStatus(run.status), attempt=run.attempt + 1, worker=worker,
        started_at=now, heartbeat_at=now, lease_expires_at=now + timedelta(seconds=settings.run_lease_seconds),
        next_attempt_at=None, detail=event_detail(worker=worker),
    )
    if not claimed:
        return None
    if run.attempt == 1:
        RUN_QUEUE_LATENCY.labels(run.agent).observe((now - run.queued_at).total_seconds())
    return run


# --- the run context agents see ---------------------------------------------------------------


class Heartbeat(threading.Thread):
    def __init__(self, run: AgentRun):
        super().__init__(name=f"heartbeat-{run.id}", daemon=True)
        settings = get_settings()
        self.run_id, self.tenant_id, self.attempt = run.id, run.tenant_id, run.attempt
        self.interval, self.lease = settings.run_heartbeat_seconds, settings.run_lease_seconds
        self.stopped, self.cancelled, self.lost = threading.Event(), threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a missed beat is survivable: the lease outlasts several intervals
                log.warning("heartbeat_failed", run_id=str(self.run_id), exc_info=True)

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

    def stop(self) -> None:
        self.stopped.set()


@dataclass
class ExecutionContext:
    """The RunContext (app.agents.base) of one attempt."""

    run_id: uuid.UUID
    tenant_id: uuid.UUID
    agent: str
    attempt: int
    context: TenantContext
    heartbeat: Heartbeat
    # Sessions on the attempt's own connection: one checkout for the whole attempt, not one per step.
    factory: sessionmaker[Session]
    # Results recorded by earlier attempts, loaded once when the attempt starts.
    recorded: dict[str, Any] = field(default_factory=dict)

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
        try:
            with session_scope(self.tenant_id, self.factory) as session:
                result = to_jsonable_python(fn(session))
                session.add(RunStep(tenant_id=self.tenant_id, run_id=self.run_id, name=name, result=result,
                                    attempt=self.attempt, started_at=started))
                session.flush()
        except IntegrityError:
            # A zombie attempt recorded this step first; its result (and its writes) stand, ours rolled back.
            with session_scope(self.tenant_id, self.factory) as session:
                return session.scalars(
                    select(RunStep.result).where(RunStep.run_id == self.run_id, RunStep.name == name)).one()
        failpoint(f"step.after.{name}")
        return result


# --- executing --------------------------------------------------------------------------------


def execute(run_id: uuid.UUID, tenant_id: uuid.UUID, worker: str) -> str | None:
    """Execute one delivery of run `run_id`. Returns the status it ended in, or None if it claimed nothing."""
    structlog.contextvars.bind_contextvars(run_id=str(run_id), tenant_id=str(tenant_id))
    with get_engine().connect() as connection:
        factory = sessionmaker(bind=connection, expire_on_commit=False)
        with session_scope(tenant_id, factory) as session:
            run = claim(session, run_id, worker)
            if run is None:
                return None
            # Only a run executed before can have recorded steps; a first attempt skips the query.
            recorded = dict(session.execute(
                select(RunStep.name, RunStep.result).where(RunStep.run_id == run_id)).all()) if run.attempt > 1 else {}
        agent = get_agent(run.agent)
        heartbeat = Heartbeat(run)
        heartbeat.start()
        ctx = ExecutionContext(run.id, run.tenant_id, run.agent, run.attempt, TenantContext.system(run.tenant_id),
                               heartbeat, factory, recorded)
        started = time.perf_counter()
        try:
            outcome = _run_agent(agent, ctx, run.input)
        finally:
            heartbeat.stop()
        RUN_DURATION.labels(agent.name, outcome[0]).observe(time.perf_counter() - started)
        if outcome[0] == "lease_lost":
            log.warning("run_lease_lost", attempt=run.attempt)
            return None
        with session_scope(tenant_id, factory) as session:
            # No re-read: every outcome write is conditional on (running, this attempt), so a run that
            # was cancelled, overridden or reaped meanwhile is simply not matched.
            return _record_outcome(session, agent, run, *outcome)


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


def _record_outcome(session: Session, agent: Agent, run: AgentRun, kind: str, value: Any) -> str | None:
    if kind == "success":
        target, fields = RunStatus.succeeded, {"output": value, "error": None}
    elif kind == "review":
        target, fields = RunStatus.awaiting_review, {"output": value, "error": None}
    elif kind == "cancelled":
        target, fields = RunStatus.cancelled, {}
    elif kind == "permanent":
        target, fields = RunStatus.failed, {"error": value}
    else:
        error, retry_after = value
        if run.attempt < run.max_attempts:
            delay = backoff_seconds(run.attempt, retry_after)
            target = RunStatus.retry_scheduled
            fields = {"error": error, "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay),
                      "lease_expires_at": None}
            if not transition(session, run, target, detail=event_detail(delay_seconds=round(delay, 3)), **fields):
                return _fenced(kind)
            schedule_execution(session, run, delay_seconds=delay)
            return target.value
        target, fields = RunStatus.dead_lettered, {"error": error}
    if not transition(session, run, target, **fields):
        return _fenced(kind)
    return target.value


def _fenced(kind: str) -> None:
    log.warning("run_outcome_discarded", reason="the run left this attempt (cancelled, overridden or reaped)",
                kind=kind)
