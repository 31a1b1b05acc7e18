"""POST /agents/{agent}/run: what one accept writes, in which tenant, and when the 202 may leave."""

import asyncio
import uuid
from datetime import datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.models import AgentRun, OutboxMessage, RunEvent
from app.runs import service
from tests.asgi import call_until_response_starts
from tests.builders import add_api_key, committed_tenant, make_tenant

RUN = "/api/v1/agents/echo/run"


def test_an_accept_writes_the_run_its_creation_event_and_its_outbox_record(db, client):
    tenant = make_tenant(db)
    response = client.post(RUN, json={"input": {"message": "hi"}}, headers=tenant.headers(Role.operator))
    assert response.status_code == 202, response.text
    body = response.json()

    run = db.scalars(select(AgentRun).where(AgentRun.id == uuid.UUID(body["id"]))).one()
    assert (run.tenant_id, run.agent, run.status, run.input, run.attempt, run.max_attempts) == (
        tenant.id, "echo", "queued", {"message": "hi", "delay_ms": 0}, 0, 4)
    assert (run.requested_by_type, run.requested_by_id) == ("user", tenant.users[Role.operator])
    assert (run.output, run.error, run.overridden, run.cancel_requested, run.idempotency_key) == (
        None, None, False, False, None)
    assert datetime.fromisoformat(body["created_at"]) == run.created_at
    assert datetime.fromisoformat(body["queued_at"]) == run.queued_at
    assert datetime.fromisoformat(body["updated_at"]) == run.updated_at

    [event] = db.scalars(select(RunEvent).where(RunEvent.run_id == run.id)).all()
    assert (event.tenant_id, event.from_status, event.to_status, event.attempt, event.detail) == (
        tenant.id, None, "queued", 0, None)
    [message] = db.scalars(select(OutboxMessage).where(OutboxMessage.kwargs["run_id"].astext == body["id"])).all()
    assert (message.task, message.queue, message.kwargs, message.countdown_seconds, message.publish_attempts) == (
        "runs.execute", "agents.echo", {"run_id": body["id"], "tenant_id": str(tenant.id)}, 0, 0)


def test_starting_a_run_is_in_the_audit_log_whoever_starts_it(db, client):
    tenant = make_tenant(db)
    key, api_key = add_api_key(db, tenant.id, Role.operator)
    by_user = client.post(RUN, json={"input": {"message": "by a person"}}, headers=tenant.headers(Role.operator))
    by_key = client.post(RUN, json={"input": {"message": "by a machine"}}, headers={"X-API-Key": key})
    assert by_user.status_code == by_key.status_code == 202
    # A run the system starts (a pipeline stage, an ingestion) follows from a write that is audited itself.
    service.create_run(db, TenantContext.system(tenant.id), "echo", {"message": "by the system"})

    log = client.get("/api/v1/audit-log", params={"action": "run.start"}, headers=tenant.headers(Role.admin))
    assert log.status_code == 200, log.text
    started = {"agent": "echo", "status": "queued", "attempt": 0}
    assert [(e["actor_type"], e["actor_id"], e["entity_type"], e["entity_id"], e["after"], e["request_id"])
            for e in reversed(log.json()["items"])] == [
        ("user", str(tenant.users[Role.operator]), "run", by_user.json()["id"], started, by_user.headers["X-Request-ID"]),
        ("api_key", str(api_key.id), "run", by_key.json()["id"], started, by_key.headers["X-Request-ID"]),
    ]


def test_create_run_returns_the_run_persistent_and_loaded(db):
    tenant = make_tenant(db)
    run = service.create_run(db, TenantContext.system(tenant.id), "echo", {"message": "hi"}, idempotency_key="k1")
    state = inspect(run)
    assert state.persistent and not state.unloaded and not state.modified
    assert db.get(AgentRun, run.id) is run
    returned = {column.key: getattr(run, column.key) for column in inspect(AgentRun).column_attrs}
    db.expire(run)
    assert {column.key: getattr(run, column.key) for column in inspect(AgentRun).column_attrs} == returned


def test_a_run_cannot_be_accepted_for_a_tenant_the_transaction_is_not_bound_to(db):
    mine, theirs = make_tenant(db), make_tenant(db)
    bind_tenant(db, mine.id)
    with pytest.raises(DBAPIError, match="row-level security"):
        service.accept_run(db, TenantContext.system(theirs.id), "echo", {"message": "not yours"})


def test_a_nul_character_in_the_input_is_a_422_and_writes_nothing(db, client):
    tenant = make_tenant(db)
    response = client.post(RUN, json={"input": {"message": "a\u0000b"}}, headers=tenant.headers(Role.operator))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    bind_tenant(db, tenant.id)
    assert db.scalars(select(AgentRun)).all() == []


def test_the_202_leaves_only_after_the_run_and_its_outbox_record_are_committed(committed_db, owner_engine, migrated):
    from app.main import create_app

    tenant = committed_tenant(committed_db)
    seen = []

    def look() -> None:  # another connection, at the moment the response starts
        with owner_engine.connect() as connection:
            seen.append(connection.execute(text(
                "SELECT count(*) FROM agent_runs r JOIN outbox o ON o.kwargs->>'run_id' = r.id::text "
                "WHERE r.tenant_id = :t"), {"t": tenant.id}).scalar_one())

    status = asyncio.run(call_until_response_starts(create_app(), "POST", RUN, tenant.headers(Role.operator), {"input": {"message": "hi"}}, look))
    assert status == 202 and seen == [1]


