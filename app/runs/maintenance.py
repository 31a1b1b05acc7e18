"""The reaper: runs whose worker vanished, and runs whose message vanished.

- `lease_expired`: a running run's lease ran out (its worker was killed, or lost the database). It is
  retried with backoff, dead-lettered when its attempts are spent, or cancelled if that was asked for.
- `stalled`: a queued or due retry_scheduled run nobody picked up for a while (the broker lost the
  message, or it expired). Its execution is published again; a duplicate is harmless. One with a
  cancel requested is never claimed (it was cancelled while its last attempt ran): it ends cancelled.
The cross-tenant scan is one SECURITY DEFINER function returning ids; each repair is made under the
run's own tenant binding, with the same conditional transitions the workers use.
"""

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import session_scope
from app.core.metrics import RUNS_REAPED
from app.models import AgentRun
from app.runs.executor import backoff_seconds
from app.runs.service import schedule_execution
from app.runs.state import RunStatus, event_detail, transition

log = structlog.get_logger(__name__)


def runs_needing_attention(session: Session, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    rows = session.execute(text("SELECT * FROM maintenance_runs_needing_attention(:stale, :limit)"),
                           {"stale": get_settings().run_stalled_after_seconds, "limit": limit})
    return [(row.tenant_id, row.run_id, row.reason) for row in rows]


def reap(limit: int = 500) -> dict[str, int]:
    with session_scope() as session:
        candidates = runs_needing_attention(session, limit)
    outcomes: dict[str, int] = {}
    for tenant_id, run_id, reason in candidates:
        try:
            with session_scope(tenant_id) as session:
                run = session.get(AgentRun, run_id, with_for_update=True)
                outcome = _repair(session, run, reason) if run is not None else None
        except Exception:  # one run that cannot be repaired (say, its agent is not installed here) must
            # not stop the repair of every run after it
            log.exception("run_repair_failed", run_id=str(run_id), reason=reason)
            RUNS_REAPED.labels(reason, "error").inc()
            continue
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            RUNS_REAPED.labels(reason, outcome).inc()
            log.info("run_reaped", run_id=str(run_id), reason=reason, outcome=outcome)
    return outcomes


def _repair(session: Session, run: AgentRun, reason: str) -> str | None:
    now = datetime.now(UTC)
    if reason == "lease_expired":
        if run.status != RunStatus.running.value or run.lease_expires_at is None or run.lease_expires_at >= now:
            return None  # it heartbeated or finished since the scan
        error = {"type": "WorkerLost", "code": "lease_expired", "retryable": True,
                 "message": f"worker {run.worker} stopped heartbeating during attempt {run.attempt}"}
        if run.cancel_requested:
            transition(session, run, RunStatus.cancelled, detail=event_detail(reaper="lease_expired"))
            return "cancelled"
        if run.attempt - run.attempt_base < run.max_attempts:
            delay = backoff_seconds(run.attempt - run.attempt_base)
            transition(session, run, RunStatus.retry_scheduled, error=error, lease_expires_at=None,
                       next_attempt_at=now + timedelta(seconds=delay),
                       detail=event_detail(reaper="lease_expired", delay_seconds=round(delay, 3)))
            schedule_execution(session, run, delay_seconds=delay)
            return "retry_scheduled"
        transition(session, run, RunStatus.dead_lettered, error=error, detail=event_detail(reaper="lease_expired"))
        return "dead_lettered"
    if reason == "stalled" and run.status in (RunStatus.queued.value, RunStatus.retry_scheduled.value):
        if run.cancel_requested:
            transition(session, run, RunStatus.cancelled, detail=event_detail(reaper="stalled_cancel_requested"))
            return "cancelled"
        run.updated_at = now
        schedule_execution(session, run)
        return "republished"
    return None


def purge_idempotency_keys(session: Session, older_than_hours: int = 24) -> int:
    return session.execute(text("SELECT maintenance_purge_idempotency_keys(:h)"), {"h": older_than_hours}).scalar_one()
