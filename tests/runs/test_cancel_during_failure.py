"""A run with a cancel requested that is not executing ends cancelled: when the cancel lands while a
transient failure is recorded, when a delivery finds it waiting, and when the reaper finds it stuck."""

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun
from app.runs import executor, maintenance
from app.runs.state import RunStatus
from tests.builders import committed_tenant, make_tenant
from tests.runs.cluster import wait_until


def _get(tenant_id, run_id) -> AgentRun:
    with session_scope(tenant_id) as session:
        return session.get(AgentRun, run_id)


def test_a_run_cancelled_while_it_fails_transiently_ends_cancelled_and_its_stream_closes(committed_db, api_server,
                                                                                        cluster):
    tenant = committed_tenant(committed_db)
    api_server.start()
    cluster.start_worker("w1")
    cluster.start_beat()
    started = httpx.post(f"{api_server.url}/api/v1/agents/test_cancel_race/run", json={"input": {}},
                         headers=tenant.headers(Role.operator), timeout=10)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    events: list[dict] = []

    def follow() -> None:
        with httpx.stream("GET", f"{api_server.url}/api/v1/runs/{run_id}/events", headers=tenant.headers(Role.viewer),
                          timeout=60) as stream:
            events.extend(json.loads(line[len("data: "):]) for line in stream.iter_lines() if line.startswith("data: "))

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    wait_until(lambda: _get(tenant.id, run_id).status == "running", 60, message="the run did not start")
    cancel = httpx.post(f"{api_server.url}/api/v1/runs/{run_id}/cancel", headers=tenant.headers(Role.operator), timeout=10)
    assert cancel.status_code == 200 and cancel.json()["cancel_requested"] is True

    follower.join(30)
    run = _get(tenant.id, run_id)
    assert not follower.is_alive(), f"the event stream is still open; the run is {run.status}"
    assert run.status == "cancelled" and run.error["code"] == "upstream_unavailable"
    statuses = [event["to_status"] for event in events]
    assert statuses[-1] == "cancelled" and "retry_scheduled" not in statuses, statuses


def _waiting_with_cancel_requested(factory, **values) -> tuple[uuid.UUID, uuid.UUID]:
    """A run stuck as the defect left them: waiting for an attempt with a cancel requested."""
    with factory() as session:
        tenant = make_tenant(session)
        run_id = uuid.uuid4()
        session.add(AgentRun(id=run_id, tenant_id=tenant.id, agent="echo", status=RunStatus.retry_scheduled.value,
                             input={"message": "stuck"}, attempt=1, max_attempts=4, requested_by_type="system",
                             cancel_requested=True, **values))
        session.commit()
    return tenant.id, run_id


def test_a_delivery_for_a_waiting_run_with_a_cancel_requested_ends_it(committed_db, app_engine):
    tenant_id, run_id = _waiting_with_cancel_requested(committed_db, next_attempt_at=datetime.now(UTC))
    with app_engine.connect() as connection:
        assert executor.claim(connection, run_id, tenant_id, "test-worker") is None
    run = _get(tenant_id, run_id)
    assert (run.status, run.attempt) == ("cancelled", 1)


def test_the_reaper_ends_a_stuck_run_with_a_cancel_requested(committed_db):
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    tenant_id, run_id = _waiting_with_cancel_requested(committed_db, next_attempt_at=long_ago, updated_at=long_ago)
    maintenance.reap()
    run = _get(tenant_id, run_id)
    assert (run.status, run.attempt) == ("cancelled", 1) and run.finished_at is not None
