"""The lease of an attempt, in this process: the beater thread extends it, and notices a cancellation
and a lost lease. Against the real database; the beater is the process's own thread."""

import time
import uuid

import pytest
from sqlalchemy import update

from app.core.config import get_settings
from app.models import AgentRun
from app.runs import executor
from app.runs.state import RunStatus
from tests.builders import make_tenant


@pytest.fixture
def claimed(committed_db, app_engine, monkeypatch):
    """A claimed echo run, with heartbeats every 0.1 s."""
    monkeypatch.setenv("RUN_HEARTBEAT_SECONDS", "0.1")
    get_settings.cache_clear()
    with committed_db() as session:
        tenant = make_tenant(session)
        run_id = uuid.uuid4()
        session.add(AgentRun(id=run_id, tenant_id=tenant.id, agent="echo", status=RunStatus.queued.value,
                             input={"message": "hi"}, attempt=0, max_attempts=3, requested_by_type="system"))
        session.commit()
    with app_engine.connect() as connection:
        run, _ = executor.claim(connection, run_id, tenant.id, "test-worker")
    yield run, committed_db
    monkeypatch.undo()
    get_settings.cache_clear()


def _row(factory, run) -> AgentRun:
    with factory() as session:
        session.info["tenant_id"] = run.tenant_id
        return session.get(AgentRun, run.id)


def _update(factory, run, **values) -> None:
    with factory() as session:
        session.info["tenant_id"] = run.tenant_id
        session.execute(update(AgentRun).where(AgentRun.id == run.id).values(**values))
        session.commit()


def _wait(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_started_heartbeat_extends_the_lease_even_when_the_beater_sleeps_longer(claimed, monkeypatch):
    run, factory = claimed
    before = _row(factory, run)
    # A new beater that went idle while the interval was 30 s: it sleeps 30 s unless woken.
    monkeypatch.setattr(executor, "_beater_thread", None)
    monkeypatch.setenv("RUN_HEARTBEAT_SECONDS", "30")
    get_settings.cache_clear()
    beater = executor._beater()
    assert _wait(lambda: beater.asleep_until > time.monotonic() + 20)
    monkeypatch.setenv("RUN_HEARTBEAT_SECONDS", "0.1")
    get_settings.cache_clear()
    heartbeat = executor.Heartbeat(run)
    heartbeat.start()
    try:
        assert _wait(lambda: _row(factory, run).heartbeat_at > before.heartbeat_at)
        after = _row(factory, run)
        assert after.lease_expires_at > before.lease_expires_at
        assert not heartbeat.lost.is_set() and not heartbeat.cancelled.is_set()
    finally:
        heartbeat.stop()


def test_heartbeat_notices_a_cancellation_and_a_lost_lease(claimed):
    run, factory = claimed
    heartbeat = executor.Heartbeat(run)
    heartbeat.start()
    try:
        _update(factory, run, cancel_requested=True)
        assert _wait(heartbeat.cancelled.is_set)
        _update(factory, run, attempt=run.attempt + 1)  # another attempt took the run over
        assert _wait(heartbeat.lost.is_set)
    finally:
        heartbeat.stop()


def test_a_stopped_heartbeat_no_longer_beats(claimed):
    run, factory = claimed
    heartbeat = executor.Heartbeat(run)
    heartbeat.start()
    assert _wait(lambda: _row(factory, run).heartbeat_at > run.queued_at)
    heartbeat.stop()
    # A pass that took its snapshot before the stop may still beat: wait until no pass is under way (the
    # beater clears asleep_until in the same locked step as its snapshot), however long that one takes.
    beater = executor._beater()
    assert _wait(lambda: beater.asleep_until != 0)
    stopped_at = _row(factory, run).heartbeat_at
    time.sleep(0.4)  # four intervals: a beater that still held it would have beaten
    assert _row(factory, run).heartbeat_at == stopped_at
