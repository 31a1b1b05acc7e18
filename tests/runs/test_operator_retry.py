"""An operator's retry grants a fresh budget of attempts and nothing else: the steps done before it are
reused, and an execution from before it is fenced out. Real workers on the real database."""

import uuid

from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun, AuditLog, RunEvent
from app.runs import executor
from app.runs.state import TERMINAL
from tests.builders import committed_tenant
from tests.runs.cluster import wait_until


def _get(tenant_id, run_id) -> AgentRun:
    with session_scope(tenant_id) as session:
        return session.get(AgentRun, run_id)


def _wait_status(tenant, run_id, status, timeout=90) -> AgentRun:
    wait_until(lambda: _get(tenant.id, run_id).status == status, timeout,
               message=f"run {run_id} did not reach {status} (is {_get(tenant.id, run_id).status})")
    return _get(tenant.id, run_id)


def _start(client, tenant, agent, payload) -> str:
    response = client.post(f"/api/v1/agents/{agent}/run", json={"input": payload}, headers=tenant.headers(Role.operator))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _calls(tenant_id, run_id) -> dict[str, int]:
    with session_scope(tenant_id) as session:
        rows = session.execute(select(AuditLog.action, func.count()).where(
            AuditLog.entity_id == str(run_id), AuditLog.action.like("test.call.%")).group_by(AuditLog.action))
        return {action.removeprefix("test.call."): count for action, count in rows}


def test_a_retried_run_reuses_the_steps_done_before_it_failed(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    cluster.start_beat()
    run_id = _start(live_client, tenant, "test_three_steps", {"fail_third_until_attempt": 1})
    failed = _wait_status(tenant, run_id, "failed")
    assert failed.attempt == 1 and failed.error["code"] == "policy_violation"
    assert _calls(tenant.id, run_id) == {"one": 1, "two": 1, "three": 1}

    retried = live_client.post(f"/api/v1/runs/{run_id}/retry", headers=tenant.headers(Role.operator))
    assert retried.status_code == 200, retried.text
    assert {key: retried.json()[key] for key in ("status", "attempt", "attempt_base", "max_attempts")} == {
        "status": "queued", "attempt": 1, "attempt_base": 1, "max_attempts": 3}

    run = _wait_status(tenant, run_id, "succeeded")
    assert (run.attempt, run.attempt_base) == (2, 1)
    # Steps one and two were done once, by attempt 1; only the step that failed ran again.
    assert run.output == {"step_attempts": {"one": 1, "two": 1, "three": 2}}
    assert _calls(tenant.id, run_id) == {"one": 1, "two": 1, "three": 2}


def test_an_execution_from_before_a_retry_can_neither_extend_the_lease_nor_write_the_outcome(
        committed_db, live_client, cluster, app_engine):
    tenant = committed_tenant(committed_db)
    operator = tenant.headers(Role.operator)
    run_id = _start(live_client, tenant, "echo", {"message": "fresh", "delay_ms": 6000})
    with app_engine.connect() as connection:
        # The first execution hangs: claimed here, it neither beats nor finishes until the retry runs.
        hung, _ = executor.claim(connection, uuid.UUID(run_id), tenant.id, "hung-worker")
        overridden = live_client.post(f"/api/v1/runs/{run_id}/manual-override",
                                      json={"status": "failed", "reason": "its worker hangs"}, headers=operator)
        assert overridden.status_code == 200, overridden.text
        assert live_client.post(f"/api/v1/runs/{run_id}/retry", headers=operator).status_code == 200

        cluster.start_worker("w1")
        cluster.start_beat()
        wait_until(lambda: (lambda run: run.status == "running" and run.worker.startswith("w1@"))(
            _get(tenant.id, run_id)), 60, message="the retry was not picked up")
        current = _get(tenant.id, run_id)
        assert current.attempt == hung.attempt + 1

        heartbeat = executor.Heartbeat(hung)
        heartbeat.beat()
        assert heartbeat.lost.is_set()  # its UPDATE matched nothing: the lease it would extend is not its own
        error = {"type": "TransientError", "code": "stale", "message": "from the hung worker", "retryable": True}
        assert executor._record_outcome(connection, hung, "success", {"message": "stale"}) is None
        assert executor._record_outcome(connection, hung, "permanent", error) is None
        assert executor._record_outcome(connection, hung, "transient", (error, None)) is None
        assert executor._record_outcome(connection, hung, "cancelled", None) is None
        after = _get(tenant.id, run_id)
        assert (after.status, after.attempt, after.worker, after.error) == ("running", current.attempt, current.worker, None)

    run = _wait_status(tenant, run_id, "succeeded")
    assert run.output == {"message": "fresh"} and run.attempt == current.attempt
    with session_scope(tenant.id) as session:
        events = list(session.scalars(select(RunEvent).where(RunEvent.run_id == run.id).order_by(RunEvent.id)))
    assert [(e.to_status, e.attempt) for e in events if e.to_status in TERMINAL] == [
        ("failed", hung.attempt), ("succeeded", current.attempt)]
