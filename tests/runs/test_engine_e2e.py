"""Runs through the real path: API → outbox → Redis → Celery worker process → PostgreSQL."""

import json

from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun, AuditLog, RunStep
from tests.builders import committed_tenant
from tests.runs.cluster import wait_until


def _status(tenant_id, run_id) -> str:
    with session_scope(tenant_id) as session:
        return session.get(AgentRun, run_id).status


def test_echo_run_completes_with_steps_and_history(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    cluster.start_beat()
    response = live_client.post("/api/v1/agents/echo/run", json={"input": {"message": "hello", "delay_ms": 50}},
                                headers=tenant.headers(Role.operator))
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] == "queued" and run["agent"] == "echo" and run["attempt"] == 0

    wait_until(lambda: _status(tenant.id, run["id"]) == "succeeded", 90, message="echo run did not succeed")
    detail = live_client.get(f"/api/v1/runs/{run['id']}", headers=tenant.headers(Role.viewer)).json()
    assert detail["output"] == {"message": "hello"}
    assert detail["attempt"] == 1 and detail["worker"].startswith("w1@")
    assert [s["name"] for s in detail["steps"]] == ["wait", "respond"]
    assert [(e["from_status"], e["to_status"]) for e in detail["events"]] == [
        (None, "queued"), ("queued", "running"), ("running", "succeeded")]
    assert detail["started_at"] <= detail["finished_at"]


def test_sse_streams_each_state_change_and_closes_at_terminal(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    cluster.start_worker("w1")
    cluster.start_beat()
    run = live_client.post("/api/v1/agents/echo/run", json={"input": {"message": "sse", "delay_ms": 300}},
                           headers=tenant.headers(Role.operator)).json()
    with live_client.stream("GET", f"/api/v1/runs/{run['id']}/events", headers=tenant.headers(Role.viewer)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert [e["to_status"] for e in events] == ["queued", "running", "succeeded"]


def test_unknown_agent_and_invalid_input_are_4xx_and_create_nothing(committed_db, live_client):
    tenant = committed_tenant(committed_db)
    headers = tenant.headers(Role.operator)
    unknown = live_client.post("/api/v1/agents/nope/run", json={"input": {}}, headers=headers)
    assert unknown.status_code == 404 and "echo" in unknown.json()["detail"]
    internal = live_client.post("/api/v1/agents/test_internal/run", json={"input": {}}, headers=headers)
    assert internal.status_code == 404
    invalid = live_client.post("/api/v1/agents/echo/run", json={"input": {"message": "x", "delay_ms": 99999}},
                               headers=headers)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert invalid.json()["errors"][0]["field"] == "input.delay_ms"
    with session_scope(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(AgentRun)) == 0


def test_side_effect_step_is_not_repeated_after_a_crash(committed_db, live_client, cluster):
    """The worker dies right after step `effect` is recorded; the retry reuses it."""
    tenant = committed_tenant(committed_db)
    cluster.env["AGENTLINE_FAILPOINTS"] = "step.after.effect"
    cluster.start_worker("crashy", concurrency=1)
    run = live_client.post("/api/v1/agents/test_side_effect/run", json={"input": {"delay_ms": 10}},
                           headers=tenant.headers(Role.operator)).json()

    def effect_recorded() -> bool:
        with session_scope(tenant.id) as session:
            return session.scalar(select(func.count()).select_from(RunStep).where(RunStep.run_id == run["id"])) == 1

    wait_until(effect_recorded, 90, message="step effect was not recorded")
    cluster.kill_worker("crashy")
    del cluster.env["AGENTLINE_FAILPOINTS"]
    cluster.start_worker("healthy", concurrency=1)
    cluster.start_beat()
    wait_until(lambda: _status(tenant.id, run["id"]) == "succeeded", 90, message="run did not recover")
    with session_scope(tenant.id) as session:
        finished = session.get(AgentRun, run["id"])
        effects = session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "test.side_effect", AuditLog.entity_id == run["id"]))
    assert finished.attempt == 2
    assert finished.output == {"effect_attempt": 1, "finished_attempt": 2}
    assert effects == 1
