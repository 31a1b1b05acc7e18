"""GET/PUT /api/v1/prompts…: versions, activation back and forward, roles, bad input, tenant isolation."""

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.models import AuditLog, PromptActivation, PromptVersion
from app.prompts import service
from app.prompts.registry import default_prompts
from tests.builders import make_tenant, rebind

KEY = "sdr.qualify"
BASE = f"/api/v1/prompts/{KEY}"


def _body(marker: str) -> dict:
    return {"system": f"System {marker} for {{{{ company }}}}.", "user": f"Lead {marker}: {{{{ lead.name }}}}",
            "description": f"version {marker}"}


def _active(detail: dict) -> tuple[str, int]:
    return detail["active"]["source"], detail["active"]["version"]


def test_list_shows_every_default_following_the_newest(db, client):
    tenant = make_tenant(db)
    response = client.get("/api/v1/prompts", headers=tenant.headers(Role.viewer))
    assert response.status_code == 200, response.text
    by_key = {p["key"]: p for p in response.json()}
    assert set(by_key) == set(default_prompts().keys())
    sdr = by_key[KEY]
    assert sdr["active"] == {"source": "default", "version": sdr["default_versions"],
                             "follows_latest_default": True}
    assert sdr["tenant_versions"] == 0 and "lead" in sdr["variables"]


def test_put_makes_a_new_active_version_and_activate_rolls_back_and_forward(db, client):
    tenant = make_tenant(db)
    admin = tenant.headers(Role.admin)
    first = client.put(BASE, json=_body("one"), headers=admin)
    assert first.status_code == 200, first.text
    assert _active(first.json()) == ("tenant", 1)
    second = client.put(BASE, json=_body("two"), headers=admin).json()
    assert _active(second) == ("tenant", 2) and second["tenant_versions"] == 2
    assert [v["active"] for v in second["versions"] if v["source"] == "tenant"] == [False, True]

    rebind(db, tenant.id)
    assert service.resolve(db, tenant.id, KEY).user.text == "Lead two: {{ lead.name }}"

    back = client.post(f"{BASE}/activate", json={"version": 1}, headers=admin)
    assert back.status_code == 200 and _active(back.json()) == ("tenant", 1)
    assert service.resolve(db, tenant.id, KEY).user.text == "Lead one: {{ lead.name }}"

    to_default = client.post(f"{BASE}/activate", json={"source": "default", "version": 1}, headers=admin).json()
    assert to_default["active"] == {"source": "default", "version": 1, "follows_latest_default": False}
    assert service.resolve(db, tenant.id, KEY).source == "default"

    forward = client.post(f"{BASE}/activate", json={"version": 2}, headers=admin).json()
    assert _active(forward) == ("tenant", 2)
    latest = client.post(f"{BASE}/activate", json={"source": "default"}, headers=admin).json()
    assert latest["active"]["follows_latest_default"] is True

    actions = db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == tenant.id,
                                                       AuditLog.entity_type == "prompt").order_by(AuditLog.id)).all()
    assert actions == ["prompt.version_create"] * 2 + ["prompt.activate"] * 4
    reading = client.get(BASE, headers=tenant.headers(Role.viewer)).json()
    assert [(v["source"], v["version"]) for v in reading["versions"]][-2:] == [("tenant", 1), ("tenant", 2)]


def test_another_tenant_never_sees_a_tenants_versions(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    assert client.put(BASE, json=_body("secret"), headers=tenant.headers(Role.admin)).status_code == 200
    seen = client.get(BASE, headers=other.headers(Role.admin)).json()
    assert seen["tenant_versions"] == 0 and all(v["source"] == "default" for v in seen["versions"])
    refused = client.post(f"{BASE}/activate", json={"version": 1}, headers=other.headers(Role.admin))
    assert refused.status_code == 422
    rebind(db, other.id)
    assert service.resolve(db, other.id, KEY).source == "default"


@pytest.mark.parametrize(("method", "path", "body", "status", "fragment"), [
    ("put", BASE, {"system": "S {{ company }}", "user": "U {{ salary }}"}, 422, "salary"),
    ("put", BASE, {"system": "S {{ company", "user": "U {{ lead name }}"}, 422, "not a placeholder"),
    ("put", BASE, {"system": "", "user": "U"}, 422, "system"),
    ("put", BASE, {"system": "S", "user": "U", "temperature": 2}, 422, "temperature"),
    ("put", "/api/v1/prompts/no.such.prompt", {"system": "S", "user": "U"}, 404, "no.such.prompt"),
    ("put", "/api/v1/prompts/Bad Key!", {"system": "S", "user": "U"}, 422, "key"),
    ("post", f"{BASE}/activate", {"version": 9}, 422, "no tenant version 9"),
    ("post", f"{BASE}/activate", {"source": "default", "version": 99}, 422, "no default version 99"),
    ("post", f"{BASE}/activate", {"source": "tenant"}, 422, "version is required"),
    ("post", f"{BASE}/activate", {"version": 0}, 422, "version"),
])
def test_bad_input_is_problem_json_and_changes_nothing(db, client, method, path, body, status, fragment):
    tenant = make_tenant(db)
    response = getattr(client, method)(path, json=body, headers=tenant.headers(Role.admin))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fragment in response.text
    rebind(db, tenant.id)
    assert db.scalars(select(PromptVersion).where(PromptVersion.tenant_id == tenant.id)).all() == []
    assert db.scalars(select(PromptActivation).where(PromptActivation.tenant_id == tenant.id)).all() == []
    assert db.scalars(select(AuditLog).where(AuditLog.tenant_id == tenant.id,
                                             AuditLog.entity_type == "prompt")).all() == []


WRITERS = {Role.owner, Role.admin}


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(db, client, role):
    tenant = make_tenant(db)
    headers = tenant.headers(role)
    assert client.get("/api/v1/prompts", headers=headers).status_code == 200
    assert client.get(BASE, headers=headers).status_code == 200
    put = client.put(BASE, json=_body(role.value), headers=headers)
    assert put.status_code == (200 if role in WRITERS else 403), put.text
    activate = client.post(f"{BASE}/activate", json={"source": "default"}, headers=headers)
    assert activate.status_code == (200 if role in WRITERS else 403), activate.text
    if role not in WRITERS:
        assert put.headers["content-type"].startswith("application/problem+json")
        rebind(db, tenant.id)
        assert db.scalars(select(PromptVersion).where(PromptVersion.tenant_id == tenant.id)).all() == []


def test_anonymous_is_401(client):
    assert client.get("/api/v1/prompts").status_code == 401
    assert client.put(BASE, json=_body("x")).status_code == 401
