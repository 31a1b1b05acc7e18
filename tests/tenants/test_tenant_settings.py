"""Tenant settings (GET/PATCH /api/v1/tenant) and tenant creation."""

import pytest
from sqlalchemy import select, text

from app.auth.permissions import Role
from app.core.errors import Conflict
from app.core.security import verify_password
from app.models import AuditLog, Membership
from app.tenants.service import create_tenant
from tests.builders import make_tenant

TENANT = "/api/v1/tenant"


def test_read_tenant(db, client):
    tenant = make_tenant(db, name="Acme Fitness")
    body = client.get(TENANT, headers=tenant.headers(Role.viewer)).json()
    assert (body["id"], body["name"], body["slug"], body["timezone"]) == (str(tenant.id), "Acme Fitness", tenant.slug, "UTC")


def test_patch_name_timezone_and_merge_settings(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.admin)
    first = client.patch(TENANT, json={"settings": {"currency": "EUR", "week_starts": "monday"}}, headers=headers)
    assert first.status_code == 200, first.text
    response = client.patch(TENANT, headers=headers, json={
        "name": "Renamed", "timezone": "Europe/Berlin", "settings": {"currency": "CHF", "week_starts": None},
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["timezone"]) == ("Renamed", "Europe/Berlin")
    assert body["settings"] == {"currency": "CHF"}
    assert client.get(TENANT, headers=headers).json()["settings"] == {"currency": "CHF"}


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "utc+2", "", "Europe/Berlin; DROP TABLE tenants"])
def test_bad_timezone_is_422_and_nothing_changes(timezone, db, client):
    tenant = make_tenant(db, name="Unchanged")
    headers = tenant.headers(Role.admin)
    response = client.patch(TENANT, json={"name": "Changed", "timezone": timezone}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["timezone"]
    after = client.get(TENANT, headers=headers).json()
    assert (after["name"], after["timezone"]) == ("Unchanged", "UTC")


@pytest.mark.parametrize("body", [{"slug": "taken"}, {"id": "00000000-0000-0000-0000-000000000000"}, {"name": ""}])
def test_fields_that_cannot_be_patched_are_422(body, db, client):
    tenant = make_tenant(db)
    response = client.patch(TENANT, json=body, headers=tenant.headers(Role.owner))
    assert response.status_code == 422, response.text
    assert client.get(TENANT, headers=tenant.headers(Role.owner)).json()["slug"] == tenant.slug


def test_create_tenant_makes_an_owner_with_a_hashed_password_and_an_audit_row(db):
    tenant, owner = create_tenant(db, name="Bright Gym GmbH", admin_email="Boss@Bright.example.com",
                                  admin_password="a-long-enough-password", timezone="Europe/Vienna")
    assert (tenant.slug, tenant.timezone) == ("bright-gym-gmbh", "Europe/Vienna")
    assert owner.email == "boss@bright.example.com"
    assert owner.password_hash != "a-long-enough-password"
    assert verify_password(owner.password_hash, "a-long-enough-password")
    assert db.scalars(select(Membership.role).where(Membership.user_id == owner.id)).one() == Role.owner
    entry = db.scalars(select(AuditLog).where(AuditLog.tenant_id == tenant.id)).one()
    assert (entry.action, entry.actor_type, entry.after["slug"]) == ("tenant.create", "system", "bright-gym-gmbh")


def test_create_tenant_with_a_taken_slug_is_a_conflict_and_leaves_nothing_behind(db):
    create_tenant(db, name="Same Name", admin_email="a@example.com", admin_password="a-long-enough-password")
    with pytest.raises(Conflict, match="same-name"):
        create_tenant(db, name="Same Name", admin_email="b@example.com", admin_password="a-long-enough-password")
    # The lookup function sees every tenant, whatever the session is bound to.
    assert db.execute(text("SELECT * FROM auth_users_by_email('b@example.com')")).all() == []


def test_a_bad_section_of_the_settings_is_a_422_that_changes_nothing(db, client):
    from app.auth.permissions import Role
    from tests.builders import make_tenant

    tenant = make_tenant(db)
    admin = tenant.headers(Role.admin)
    bad = client.patch("/api/v1/tenant", headers=admin, json={"settings": {
        "icp": {"criteria": [{"name": "industry", "description": "x", "weight": -1}]},
        "reviews": {"on_expiry": "shrug"}}})
    assert bad.status_code == 422, bad.text
    fields = {error["field"] for error in bad.json()["errors"]}
    assert {"settings.icp.criteria.0.weight", "settings.reviews.on_expiry"} <= fields
    assert client.get("/api/v1/tenant", headers=admin).json()["settings"] == {}
    good = client.patch("/api/v1/tenant", headers=admin, json={"settings": {
        "reviews": {"deadline_hours": {"email": 24, "default": 48}, "four_eyes": True}, "custom": {"any": 1}}})
    assert good.status_code == 200 and good.json()["settings"]["reviews"]["four_eyes"] is True
