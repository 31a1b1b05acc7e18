"""An Idempotency-Key outlives its HTTP record on the run it created: reused after the record expired,
or on another agent's route, it is a replay or a 422, never a 500."""

import pytest
from sqlalchemy import delete, func, select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.core.errors import UnprocessableEntity
from app.models import AgentRun, AuditLog, IdempotencyRecord
from app.runs import service
from tests.builders import make_tenant

RUN = "/api/v1/agents/{agent}/run"


def _expire_records(db, tenant) -> None:
    """What the nightly purge does to day-old keys."""
    bind_tenant(db, tenant.id)
    assert db.execute(delete(IdempotencyRecord)).rowcount >= 1


def _runs(db, tenant) -> int:
    bind_tenant(db, tenant.id)
    return db.scalar(select(func.count()).select_from(AgentRun))


def test_a_key_reused_after_its_record_expired_replays_the_run_or_is_a_422(db, client):
    tenant = make_tenant(db)
    headers = {**tenant.headers(Role.operator), "Idempotency-Key": "nightly-import-1"}
    first = client.post(RUN.format(agent="echo"), json={"input": {"message": "once"}}, headers=headers)
    assert first.status_code == 202, first.text
    _expire_records(db, tenant)

    again = client.post(RUN.format(agent="echo"), json={"input": {"message": "once"}}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    replayed_from_record = client.post(RUN.format(agent="echo"), json={"input": {"message": "once"}}, headers=headers)
    assert replayed_from_record.json() == again.json()

    _expire_records(db, tenant)
    other = client.post(RUN.format(agent="echo"), json={"input": {"message": "another"}}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    assert first.json()["id"] in other.json()["detail"] and other.json()["run_id"] == first.json()["id"]
    assert _runs(db, tenant) == 1
    bind_tenant(db, tenant.id)
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "run.start")) == 1


def test_a_key_used_on_another_agents_route_is_a_422(db, client):
    tenant = make_tenant(db)
    headers = {**tenant.headers(Role.operator), "Idempotency-Key": "shared-key"}
    echo = client.post(RUN.format(agent="echo"), json={"input": {"message": "hi"}}, headers=headers)
    assert echo.status_code == 202, echo.text
    reviewed = client.post(RUN.format(agent="test_reviewed"), json={"input": {}}, headers=headers)
    assert reviewed.status_code == 422, reviewed.text
    assert reviewed.headers["content-type"].startswith("application/problem+json")
    assert "'echo' agent" in reviewed.json()["detail"]
    assert _runs(db, tenant) == 1


def test_create_run_with_a_key_taken_returns_the_run_it_names(db):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    first = service.create_run(db, ctx, "echo", {"message": "stage 1"}, idempotency_key="pipeline-7:sdr")
    assert service.create_run(db, ctx, "echo", {"message": "stage 1"}, idempotency_key="pipeline-7:sdr") is first
    with pytest.raises(UnprocessableEntity):
        service.create_run(db, ctx, "echo", {"message": "stage 2"}, idempotency_key="pipeline-7:sdr")
    assert _runs(db, tenant) == 1
