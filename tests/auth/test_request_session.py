"""The request's unit of work commits before the response leaves: a client that reads right after a
2xx sees its write, and a commit that fails is an error response, never a success."""

import asyncio
import json
import uuid

import pytest
from sqlalchemy import text

from app.auth.permissions import Role
from app.core.db import session_scope
from tests.builders import make_tenant


@pytest.fixture
def committed_tenant(committed_db, owner_engine):
    with session_scope(factory=committed_db) as session:
        tenant = make_tenant(session, name="Before")
    yield tenant
    with owner_engine.begin() as connection:
        connection.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant.id})


async def _call(app, method: str, path: str, headers: dict[str, str], body: dict, on_response_start) -> int:
    """One request straight through ASGI, so the test can look at the database at the moment the
    response starts, before the server would have written a byte to the client."""
    payload = json.dumps(body).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }
    status = {}
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
            on_response_start()

    await app(scope, receive, send)
    return status["code"]


def test_a_write_is_committed_before_the_response_starts(committed_tenant, owner_engine, migrated):
    from app.main import create_app

    seen_by_others = []

    def look() -> None:
        with owner_engine.connect() as connection:
            seen_by_others.append(connection.execute(
                text("SELECT name FROM tenants WHERE id = :id"), {"id": committed_tenant.id}).scalar_one())

    new_name = f"After {uuid.uuid4().hex[:6]}"
    status = asyncio.run(_call(create_app(), "PATCH", "/api/v1/tenant", committed_tenant.headers(Role.admin),
                               {"name": new_name}, look))
    assert status == 200
    assert seen_by_others == [new_name]
