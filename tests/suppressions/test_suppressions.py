"""The suppression list over HTTP, and `find_suppression`, which every sender asks."""

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.models import AuditLog, Suppression
from app.suppressions.service import find_suppression
from tests.builders import make_tenant, rebind
from tests.records import add_suppression

SUPPRESSIONS = "/api/v1/suppressions"


def _is_problem(response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("kind", "value", "stored"), [
    ("email", " Bob.Smith@Example.COM ", "bob.smith@example.com"),
    ("domain", "@Competitor.Example.com", "competitor.example.com"),
    ("domain", "exämple.de", "exämple.de"),
])
def test_entries_are_validated_and_lower_cased(kind, value, stored, db, client):
    tenant = make_tenant(db)
    response = client.post(SUPPRESSIONS, json={"kind": kind, "value": value, "reason": "asked us to stop"},
                           headers=tenant.headers(Role.operator))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["value"], body["reason"]) == (kind, stored, "asked us to stop")
    assert (body["created_by_type"], body["created_by_id"]) == ("user", str(tenant.users[Role.operator]))
    entry = db.scalars(select(AuditLog).where(AuditLog.entity_id == body["id"])).one()
    assert (entry.action, entry.after["value"]) == ("suppression.create", stored)


@pytest.mark.parametrize(("kind", "value"), [
    ("email", "not-an-address"), ("email", "example.com"), ("domain", "not a domain"), ("domain", "localhost"),
    ("domain", "bob@example.com"), ("phone", "+49 30 1234"),
])
def test_invalid_entries_are_422(kind, value, db, client):
    tenant = make_tenant(db)
    response = client.post(SUPPRESSIONS, json={"kind": kind, "value": value}, headers=tenant.headers(Role.operator))
    _is_problem(response, 422)
    assert db.scalars(select(Suppression).where(Suppression.tenant_id == tenant.id)).all() == []


def test_a_duplicate_is_409(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)

    def create(kind: str, value: str):
        return client.post(SUPPRESSIONS, json={"kind": kind, "value": value}, headers=headers)

    assert create("domain", "example.com").status_code == 201
    _is_problem(create("domain", "EXAMPLE.com"), 409)
    # The same text as an address is another entry.
    assert create("email", "a@example.com").status_code == 201


def test_list_filters_and_pages(db, client):
    tenant = make_tenant(db)
    for value in ("a@example.com", "b@example.com", "c@other.example"):
        add_suppression(db, tenant.id, "email", value)
    add_suppression(db, tenant.id, "domain", "example.com")
    headers = tenant.headers(Role.viewer)
    assert {s["value"] for s in client.get(SUPPRESSIONS, params={"kind": "domain"}, headers=headers).json()["items"]} \
        == {"example.com"}
    assert {s["value"] for s in client.get(SUPPRESSIONS, params={"q": "OTHER"}, headers=headers).json()["items"]} \
        == {"c@other.example"}
    first = client.get(SUPPRESSIONS, params={"limit": 3}, headers=headers).json()
    second = client.get(SUPPRESSIONS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers).json()
    assert len(first["items"]) == 3 and len(second["items"]) == 1 and second["next_cursor"] is None


def test_delete_roles_and_tenancy(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs = add_suppression(db, other.id, "email", "x@example.com")
    rebind(db, tenant.id)
    mine = add_suppression(db, tenant.id, "email", "x@example.com")
    _is_problem(client.delete(f"{SUPPRESSIONS}/{theirs.id}", headers=tenant.headers(Role.owner)), 404)
    _is_problem(client.delete(f"{SUPPRESSIONS}/{mine.id}", headers=tenant.headers(Role.viewer)), 403)
    _is_problem(client.post(SUPPRESSIONS, json={"kind": "email", "value": "y@example.com"},
                            headers=tenant.headers(Role.reviewer)), 403)
    assert client.delete(f"{SUPPRESSIONS}/{mine.id}", headers=tenant.headers(Role.operator)).status_code == 204
    assert client.get(SUPPRESSIONS, headers=tenant.headers(Role.viewer)).json()["items"] == []
    assert db.scalars(select(AuditLog).where(AuditLog.action == "suppression.delete")).one().before["value"] == \
        "x@example.com"


def test_find_suppression_matches_the_address_its_domain_and_parent_domains(db):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    address = add_suppression(db, tenant.id, "email", "stop@acme.example")
    domain = add_suppression(db, tenant.id, "domain", "competitor.example")
    specific = add_suppression(db, tenant.id, "domain", "eu.competitor.example")
    assert find_suppression(db, ctx, " STOP@Acme.example ") == address
    assert find_suppression(db, ctx, "ceo@competitor.example") == domain
    assert find_suppression(db, ctx, "ceo@sales.competitor.example") == domain
    assert find_suppression(db, ctx, "ceo@x.eu.competitor.example") == specific
    assert find_suppression(db, ctx, "other@acme.example") is None
    assert find_suppression(db, ctx, "ceo@notcompetitor.example") is None
    # The address's own entry wins over its domain's.
    add_suppression(db, tenant.id, "domain", "acme.example")
    assert find_suppression(db, ctx, "stop@acme.example") == address


def test_find_suppression_sees_only_the_callers_tenant(db):
    tenant, other = make_tenant(db), make_tenant(db)
    add_suppression(db, other.id, "domain", "example.com")
    rebind(db, tenant.id)
    assert find_suppression(db, TenantContext.system(tenant.id), "a@example.com") is None
    rebind(db, other.id)
    assert find_suppression(db, TenantContext.system(other.id), "a@example.com") is not None
