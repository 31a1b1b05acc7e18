"""The API tests' plumbing (tests/conftest.py): requests share the test's rolled-back transaction, yet each
one starts with no tenant bound, as on a fresh pooled transaction, so a route that forgets to bind is caught."""

from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.auth.deps import DbSession
from app.auth.permissions import Role
from app.models import User
from tests.builders import make_tenant


def _unbound_probe(app: FastAPI) -> FastAPI:
    """A route that reads users without authenticating, so without binding, on the test client's sessions."""
    probe = FastAPI()
    probe.dependency_overrides = app.dependency_overrides

    @probe.get("/users-seen")
    def users_seen(session: DbSession) -> dict:
        return {"users": session.scalar(select(func.count()).select_from(User)),
                "binding": session.scalar(text("SELECT current_setting('app.tenant_id', true)"))}

    return probe


def test_a_request_that_binds_no_tenant_sees_nothing_after_one_that_did(app, client, db):
    from fastapi.testclient import TestClient

    tenant = make_tenant(db)  # the test's session is bound to this tenant and sees its users
    assert client.get("/api/v1/me", headers=tenant.headers(Role.viewer)).status_code == 200
    with TestClient(_unbound_probe(app)) as probe:
        assert probe.get("/users-seen").json() == {"users": 0, "binding": ""}
    # The test's own session has its binding back.
    assert db.scalar(select(func.count()).select_from(User)) == len(Role)
    assert client.get("/api/v1/me", headers=tenant.headers(Role.viewer)).status_code == 200
