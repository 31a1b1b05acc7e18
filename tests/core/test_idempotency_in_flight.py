"""Idempotency-Key while the first request is still in flight: the second is a 409, deterministically. The
first request is held at a failpoint (app.core.failpoints) right after it took the key's lock, so the
second arrives at exactly that moment on every run, not by the luck of a thread schedule."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.core.failpoints import acting
from app.models import AgentRun
from tests.builders import committed_tenant
from tests.holds import HoldFirst


def test_a_request_arriving_while_the_first_holds_the_key_is_409_and_the_first_completes(committed_db, live_client):
    tenant = committed_tenant(committed_db)
    headers = {**tenant.headers(Role.operator), "Idempotency-Key": "in-flight"}
    body = {"input": {"message": "once"}}

    def post():
        return live_client.post("/api/v1/agents/echo/run", json=body, headers=headers)

    hold = HoldFirst()
    with acting("idempotency.locked", hold), ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(post)
        assert hold.reached.wait(30), "the first request never took the key"
        second = post()
        hold.released.set()
        first = first.result(timeout=30)

    assert second.status_code == 409, second.text
    assert second.headers["content-type"].startswith("application/problem+json")
    assert "still being processed" in second.json()["detail"]
    assert first.status_code == 202, first.text
    replay = post()
    assert replay.status_code == 202 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    with session_scope(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(AgentRun)) == 1
