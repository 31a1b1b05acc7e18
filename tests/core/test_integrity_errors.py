"""No IntegrityError reaches a client as a 500: whatever constraint a request breaks, in the handler or
when its unit of work commits, it is a 409 problem that names no table, constraint or value."""

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.auth.deps import DbSession, get_session_factory
from app.core.db import bind_tenant
from app.core.errors import install_error_handlers
from app.models import IdempotencyRecord
from tests.builders import make_tenant

_RECORD = ("INSERT INTO idempotency_keys (key, scope, tenant_id, request_hash, response_status, response_body) "
           "VALUES ('k', 'test', :tenant_id, 'secret-hash', 200, '{}')")
_ORPHAN_EVENT = ("INSERT INTO run_events (tenant_id, run_id, from_status, to_status, attempt) "
                 "VALUES (:tenant_id, :run_id, NULL, 'queued', 0)")


@pytest.fixture
def conflicts(db):
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/{tenant_id}/duplicate")
    def duplicate(tenant_id: uuid.UUID, session: DbSession) -> dict:
        bind_tenant(session, tenant_id)
        session.execute(text(_RECORD), {"tenant_id": tenant_id})
        session.execute(text(_RECORD), {"tenant_id": tenant_id})
        return {}

    @app.post("/{tenant_id}/orphan")
    def orphan(tenant_id: uuid.UUID, session: DbSession) -> dict:
        bind_tenant(session, tenant_id)
        session.execute(text(_ORPHAN_EVENT), {"tenant_id": tenant_id, "run_id": uuid.uuid4()})
        return {}

    @app.post("/{tenant_id}/duplicate-at-commit")
    def duplicate_at_commit(tenant_id: uuid.UUID, session: DbSession) -> dict:
        bind_tenant(session, tenant_id)
        session.execute(text(_RECORD), {"tenant_id": tenant_id})
        # Written by the flush of the request's commit, after the handler returned.
        session.add(IdempotencyRecord(key="k", scope="test", tenant_id=tenant_id, request_hash="secret-hash",
                                      response_status=200, response_body={}))
        return {}

    app.dependency_overrides[get_session_factory] = lambda: db.info["request_factory"]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("route", "detail"), [
    ("duplicate", "duplicates something that already exists"),
    ("orphan", "refers to something that does not exist"),
    ("duplicate-at-commit", "duplicates something that already exists"),
])
def test_a_broken_constraint_is_a_409_problem_that_leaks_no_sql(db, conflicts, route, detail):
    tenant = make_tenant(db)
    response = conflicts.post(f"/{tenant.id}/{route}")
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Conflict" and detail in body["detail"]
    for leak in ("idempotency_keys", "run_events", "pk_", "fk_", "INSERT", "secret-hash", "Key (", "violates"):
        assert leak not in response.text
    bind_tenant(db, tenant.id)
    assert db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0  # nothing half-applied
