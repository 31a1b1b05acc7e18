"""Durability at the edge: a crash between commit and publish, and one Idempotency-Key hit 50 times at once."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun, OutboxMessage
from tests.builders import committed_tenant
from tests.runs.cluster import wait_until


def _run(tenant_id, run_id) -> AgentRun | None:
    with session_scope(tenant_id) as session:
        return session.get(AgentRun, run_id)


def test_api_killed_after_commit_before_publish_still_completes_the_run(committed_db, api_server, cluster):
    tenant = committed_tenant(committed_db)
    api_server.start(AGENTLINE_FAILPOINTS="outbox.after_commit")
    with pytest.raises(httpx.HTTPError):  # the process dies before it can answer
        httpx.post(f"{api_server.url}/api/v1/agents/echo/run", json={"input": {"message": "survivor"}},
                   headers={**tenant.headers(Role.operator), "Idempotency-Key": "crash-1"}, timeout=10)
    api_server.process.wait(10)
    assert api_server.process.returncode == 137

    with session_scope(tenant.id) as session:
        run = session.scalars(select(AgentRun).where(AgentRun.idempotency_key == "crash-1")).one()
        assert run.status == "queued"
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kwargs["run_id"].astext == str(run.id), OutboxMessage.published_at.is_(None))) == 1

    cluster.start_worker("w1")
    cluster.start_beat()  # the relay publishes what the dead API never did
    wait_until(lambda: _run(tenant.id, run.id).status == "succeeded", 60, message="run was lost")
    assert _run(tenant.id, run.id).output == {"message": "survivor"}


def test_fifty_concurrent_posts_with_one_key_create_exactly_one_run(committed_db, api_server):
    tenant = committed_tenant(committed_db)
    api_server.start()
    headers = {**tenant.headers(Role.operator), "Idempotency-Key": "same-key"}
    body = {"input": {"message": "once"}}

    def post(_: int) -> httpx.Response:
        return httpx.post(f"{api_server.url}/api/v1/agents/echo/run", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {202, 409}, statuses
    accepted = [r.json() for r in responses if r.status_code == 202]
    assert accepted and len({run["id"] for run in accepted}) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.headers["content-type"].startswith("application/problem+json")
    with session_scope(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(AgentRun)) == 1

    replay = post(0)
    assert replay.status_code == 202 and replay.json() == accepted[0]
    assert replay.headers["Idempotent-Replayed"] == "true"

    other = httpx.post(f"{api_server.url}/api/v1/agents/echo/run", json={"input": {"message": "different"}},
                       headers=headers, timeout=30)
    assert other.status_code == 422
    with session_scope(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(AgentRun)) == 1
