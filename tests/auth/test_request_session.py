"""The request's unit of work commits before the response leaves: a client that reads right after a
2xx sees its write, and a commit that fails is an error response, never a success."""

import asyncio
import uuid

import pytest
from sqlalchemy import text

from app.auth.permissions import Role
from app.core.db import session_scope
from tests.asgi import call_until_response_starts
from tests.builders import make_tenant


@pytest.fixture
def committed_tenant(committed_db, owner_engine):
    with session_scope(factory=committed_db) as session:
        tenant = make_tenant(session, name="Before")
    yield tenant
    with owner_engine.begin() as connection:
        connection.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant.id})


def test_a_write_is_committed_before_the_response_starts(committed_tenant, owner_engine, migrated):
    from app.main import create_app

    seen_by_others = []

    def look() -> None:
        with owner_engine.connect() as connection:
            seen_by_others.append(connection.execute(
                text("SELECT name FROM tenants WHERE id = :id"), {"id": committed_tenant.id}).scalar_one())

    new_name = f"After {uuid.uuid4().hex[:6]}"
    status = asyncio.run(call_until_response_starts(create_app(), "PATCH", "/api/v1/tenant", committed_tenant.headers(Role.admin),
                               {"name": new_name}, look))
    assert status == 200
    assert seen_by_others == [new_name]
