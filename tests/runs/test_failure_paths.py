"""Retries with backoff, permanent failures, dead-lettering, cancel, override and the DLQ, with real workers."""

from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun, AuditLog, RunEvent
from tests.builders import committed_tenant
from tests.runs.cluster import wait_until


def _get(tenant_id, run_id) -> AgentRun:
    with session_scope(tenant_id) as session:
        return session.get(AgentRun, run_id)


def _wait_status(tenant, run_id, status, timeout=90):
    wait_until(lambda: _get(tenant.id, run_id).status == status, timeout,
               message=f"run {run_id} did not reach {status} (is {_get(tenant.id, run_id).status})")
    return _get(tenant.id, run_id)


def _events(tenant_id, run_id) -> list[RunEvent]:
    with session_scope(tenant_id) as session:
        return list(session.scalars(select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)))


def _start(client, tenant, agent, payload):
    response = client.post(f"/api/v1/agents/{agent}/run", json={"input": payload}, headers=tenant.headers(Role.operator))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_transient_errors_retry_with_backoff_then_succeed(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    cluster.start_beat()
    run_id = _start(live_client, tenant, "test_flaky", {"fail_attempts": 2, "retry_after": 0.3})
    run = _wait_status(tenant, run_id, "succeeded")
    assert run.attempt == 3 and run.output == {"succeeded_on_attempt": 3}
    transitions = [(e.from_status, e.to_status) for e in _events(tenant.id, run_id)]
    assert transitions.count(("running", "retry_scheduled")) == 2
    assert transitions.count(("retry_scheduled", "running")) == 2
    scheduled = [e for e in _events(tenant.id, run_id) if e.to_status == "retry_scheduled"]
    # Retry-After is a floor under the jittered backoff.
    assert all(e.detail["delay_seconds"] >= 0.3 for e in scheduled)


def test_exhausted_retries_dead_letter_with_the_last_error_then_bulk_retry(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    cluster.start_beat()
    doomed = [_start(live_client, tenant, "test_flaky", {"fail_attempts": 5}) for _ in range(2)]
    for run_id in doomed:
        run = _wait_status(tenant, run_id, "dead_lettered")
        assert run.attempt == run.max_attempts == 3
        assert run.error["code"] == "upstream_unavailable" and run.error["retryable"] is True
        assert "attempt 3" in run.error["message"] and run.finished_at is not None

    dlq = live_client.get("/api/v1/dlq", headers=tenant.headers(Role.viewer)).json()
    assert {item["id"] for item in dlq["items"]} == set(doomed)

    # All or nothing: one unknown id and nothing is retried.
    bogus = live_client.post("/api/v1/dlq/retry", json={"run_ids": [doomed[0], "00000000-0000-0000-0000-000000000000"]},
                             headers=tenant.headers(Role.operator))
    assert bogus.status_code == 404
    assert _get(tenant.id, doomed[0]).status == "dead_lettered"

    retried = live_client.post("/api/v1/dlq/retry", json={"run_ids": doomed}, headers=tenant.headers(Role.operator))
    assert retried.status_code == 200 and set(retried.json()["retried"]) == set(doomed)
    # A fresh budget of three attempts, numbered on from the first budget's: attempts 4 and 5 fail
    # transiently and are retried, attempt 6 succeeds.
    for run_id in doomed:
        run = _wait_status(tenant, run_id, "succeeded")
        assert (run.attempt, run.attempt_base, run.output) == (6, 3, {"succeeded_on_attempt": 6})

    hopeless = _start(live_client, tenant, "test_flaky", {"fail_attempts": 3})
    _wait_status(tenant, hopeless, "dead_lettered")
    discarded = live_client.post(f"/api/v1/dlq/{hopeless}/discard", headers=tenant.headers(Role.operator))
    assert discarded.status_code == 200
    assert discarded.json()["status"] == "failed" and discarded.json()["error"]["discarded"] is True


def test_permanent_error_fails_at_once(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    run = _wait_status(tenant, _start(live_client, tenant, "test_flaky", {"mode": "permanent"}), "failed")
    assert run.attempt == 1
    assert run.error == {"type": "PermanentError", "code": "policy_violation", "retryable": False,
                         "message": "the input breaks a policy"}


def test_unexpected_exceptions_are_retried_then_dead_lettered(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    cluster.start_beat()
    run = _wait_status(tenant, _start(live_client, tenant, "test_flaky", {"fail_attempts": 9, "mode": "unexpected"}),
                       "dead_lettered")
    assert run.attempt == 3 and run.error["type"] == "RuntimeError"


def test_cancel_while_queued_and_while_running(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    operator = tenant.headers(Role.operator)
    queued = _start(live_client, tenant, "echo", {"message": "never", "delay_ms": 0})
    cancelled = live_client.post(f"/api/v1/runs/{queued}/cancel", headers=operator)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    cluster.start_worker("w1")
    running = _start(live_client, tenant, "echo", {"message": "long", "delay_ms": 8000})
    _wait_status(tenant, running, "running")
    assert live_client.post(f"/api/v1/runs/{running}/cancel", headers=operator).json()["cancel_requested"] is True
    run = _wait_status(tenant, running, "cancelled", timeout=15)
    assert run.output is None
    # The queued one was never executed, even though its message reached the worker.
    assert _get(tenant.id, queued).attempt == 0
    assert live_client.post(f"/api/v1/runs/{running}/cancel", headers=operator).status_code == 409
    with session_scope(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "run.cancel")) == 2


def test_reviewed_output_waits_then_override_and_retry(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    run_id = _start(live_client, tenant, "test_reviewed", {})
    run = _wait_status(tenant, run_id, "awaiting_review")
    assert run.output == {"text": "draft"}

    operator = tenant.headers(Role.operator)
    no_reason = live_client.post(f"/api/v1/runs/{run_id}/manual-override", json={"status": "succeeded",
                                 "output": {"text": "final"}}, headers=operator)
    assert no_reason.status_code == 422
    bad_output = live_client.post(f"/api/v1/runs/{run_id}/manual-override",
                                  json={"status": "succeeded", "output": {"nope": 1}, "reason": "approved by phone"},
                                  headers=operator)
    assert bad_output.status_code == 422 and _get(tenant.id, run_id).status == "awaiting_review"
    overridden = live_client.post(f"/api/v1/runs/{run_id}/manual-override",
                                  json={"status": "succeeded", "output": {"text": "final"}, "reason": "approved by phone"},
                                  headers=operator)
    assert overridden.status_code == 200
    body = overridden.json()
    assert body["status"] == "succeeded" and body["overridden"] is True and body["output"] == {"text": "final"}
    assert body["override_reason"] == "approved by phone"
    with session_scope(tenant.id) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "run.manual_override")).one()
    assert entry.before["status"] == "awaiting_review" and entry.after["status"] == "succeeded"
    assert entry.actor_id == tenant.users[Role.operator]

    assert live_client.post(f"/api/v1/runs/{run_id}/retry", headers=operator).status_code == 409
    failed = _start(live_client, tenant, "test_flaky", {"mode": "permanent"})
    _wait_status(tenant, failed, "failed")
    retried = live_client.post(f"/api/v1/runs/{failed}/retry", headers=operator)
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert (retried.json()["attempt"], retried.json()["attempt_base"]) == (1, 1)  # the number goes on; the budget is new
    assert _wait_status(tenant, failed, "failed").attempt == 2


def test_a_run_whose_broker_message_was_lost_is_republished_by_the_reaper(committed_db, live_client, cluster):
    import redis

    tenant = committed_tenant(committed_db)
    run_id = _start(live_client, tenant, "echo", {"message": "lost and found"})
    broker = redis.Redis.from_url(cluster.env["REDIS_URL"])
    assert broker.llen("agents.echo") >= 1
    broker.delete("agents.echo")  # the broker lost the message (a Redis restart without persistence)

    cluster.env["RUN_STALLED_AFTER_SECONDS"] = "2"
    cluster.start_worker("w1")
    cluster.start_beat()
    run = _wait_status(tenant, run_id, "succeeded", timeout=60)
    assert run.attempt == 1 and run.output == {"message": "lost and found"}


def test_the_tenant_cap_limits_concurrently_running_runs(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.env["TENANT_MAX_RUNNING_RUNS"] = "1"
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.start_beat()
    run_ids = [_start(live_client, tenant, "echo", {"message": str(i), "delay_ms": 700}) for i in range(4)]
    peak = 0

    def all_done() -> bool:
        nonlocal peak
        with session_scope(tenant.id) as session:
            statuses = list(session.scalars(select(AgentRun.status)))
        peak = max(peak, statuses.count("running"))
        return statuses.count("succeeded") == len(run_ids)

    wait_until(all_done, 90, interval=0.05, message="capped runs did not all finish")
    assert peak == 1
    for run_id in run_ids:
        assert _get(tenant.id, run_id).attempt == 1  # waiting for the cap consumed no attempt


def test_one_unrepairable_run_does_not_stop_the_reaper(committed_db, live_client, cluster):
    """A stalled run of an agent this worker does not have must not block the repair of the others."""
    from sqlalchemy import update

    import redis

    tenant = committed_tenant(committed_db)
    orphan = _start(live_client, tenant, "echo", {"message": "orphan"})
    with session_scope(tenant.id) as session:
        session.execute(update(AgentRun).where(AgentRun.id == orphan).values(agent="uninstalled_agent"))
    run_id = _start(live_client, tenant, "echo", {"message": "still repaired"})
    redis.Redis.from_url(cluster.env["REDIS_URL"]).delete("agents.echo")

    cluster.env["RUN_STALLED_AFTER_SECONDS"] = "2"
    cluster.start_worker("w1")
    cluster.start_beat()
    _wait_status(tenant, run_id, "succeeded", timeout=60)
    assert _get(tenant.id, orphan).status == "queued"
