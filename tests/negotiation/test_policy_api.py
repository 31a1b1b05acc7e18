"""GET/PUT/DELETE /api/v1/policies/negotiation: the built-in defaults, the tenant's default and a package's
own policy, who may read and write them, validation that changes nothing, the audit log, and tenants."""

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.models import AuditLog, NegotiationPolicy
from tests.builders import make_tenant, rebind
from tests.records import add_item

URL = "/api/v1/policies/negotiation"
BUILT_IN = {"package_code": "*", "source": "built_in", "floor_price": None, "currency": None,
            "max_discount_pct": "15.00", "approval_threshold_pct": "10.00", "max_rounds": 3,
            "allowed_concessions": ["longer_term", "upfront_payment", "smaller_scope"], "updated_at": None,
            "overrides": []}
POLICY = {"max_discount_pct": "20", "approval_threshold_pct": 12.5, "max_rounds": 4,
          "allowed_concessions": ["upfront_payment", "longer_term"]}


def _put(client, tenant, body, role=Role.admin, **params):
    return client.put(URL, json=body, params=params, headers=tenant.headers(role))


def _get(client, tenant, role=Role.viewer, **params):
    response = client.get(URL, params=params, headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_without_a_policy_the_built_in_one_applies(db, client):
    tenant = make_tenant(db)
    assert _get(client, tenant) == BUILT_IN
    assert _get(client, tenant, package_code="growth") == {**BUILT_IN, "package_code": "growth"}


def test_an_admin_sets_the_tenants_default_and_every_write_is_audited(db, client):
    tenant = make_tenant(db)
    created = _put(client, tenant, POLICY)
    assert created.status_code == 200, created.text
    body = created.json()
    assert {key: body[key] for key in ("package_code", "source", "max_discount_pct", "approval_threshold_pct",
                                       "max_rounds", "allowed_concessions", "floor_price")} == {
        "package_code": "*", "source": "tenant", "max_discount_pct": "20.00", "approval_threshold_pct": "12.50",
        "max_rounds": 4, "allowed_concessions": ["upfront_payment", "longer_term"], "floor_price": None}
    assert body["updated_at"] is not None and _get(client, tenant) == body

    assert _put(client, tenant, {"max_rounds": 2}).json()["max_rounds"] == 2  # PUT replaces: the rest are defaults
    entries = db.scalars(select(AuditLog).where(AuditLog.tenant_id == tenant.id,
                                                AuditLog.entity_type == "negotiation_policy")
                         .order_by(AuditLog.id)).all()
    assert [entry.action for entry in entries] == ["negotiation_policy.create", "negotiation_policy.update"]
    assert entries[0].before is None and entries[0].after["max_discount_pct"] == "20.00"
    assert entries[1].before["max_rounds"] == 4 and entries[1].after == {
        "package_code": "*", "floor_price": None, "max_discount_pct": "15.00", "approval_threshold_pct": "10.00",
        "max_rounds": 2, "allowed_concessions": ["longer_term", "upfront_payment", "smaller_scope"]}
    assert entries[1].actor_type == "user" and entries[1].actor_id == tenant.users[Role.admin]


@pytest.mark.parametrize("role", list(Role))
def test_admins_write_everyone_reads(db, client, role):
    tenant = make_tenant(db)
    add_item(db, tenant.id, code="growth")
    writes = role in (Role.owner, Role.admin)
    assert _put(client, tenant, POLICY, role=role).status_code == (200 if writes else 403)
    assert _put(client, tenant, POLICY, role=role, package_code="growth").status_code == (200 if writes else 403)
    assert client.delete(URL, params={"package_code": "growth"},
                         headers=tenant.headers(role)).status_code == (204 if writes else 403)
    assert _get(client, tenant, role=role)["source"] == ("tenant" if writes else "built_in")


def test_a_package_has_its_own_policy_with_a_floor_in_its_currency(db, client):
    tenant = make_tenant(db)
    add_item(db, tenant.id, code="growth", list_price="1000.00", currency="EUR")
    add_item(db, tenant.id, code="starter", list_price="490.00")
    assert _put(client, tenant, POLICY).status_code == 200
    own = _put(client, tenant, {**POLICY, "floor_price": "850.00", "max_rounds": 5}, package_code="Growth")
    assert own.status_code == 200, own.text
    assert (own.json()["package_code"], own.json()["source"], own.json()["floor_price"], own.json()["currency"],
            own.json()["max_rounds"]) == ("growth", "package", "850.00", "EUR", 5)
    assert _get(client, tenant, package_code="growth") == own.json()
    # Another package follows the tenant's default; the default lists the packages with their own.
    assert (_get(client, tenant, package_code="starter")["source"], _get(client, tenant)["overrides"]) == (
        "tenant", ["growth"])

    assert client.delete(URL, params={"package_code": "growth"}, headers=tenant.headers(Role.admin)).status_code == 204
    assert _get(client, tenant, package_code="growth")["source"] == "tenant"
    missing = client.delete(URL, params={"package_code": "growth"}, headers=tenant.headers(Role.admin))
    assert missing.status_code == 404
    assert client.delete(URL, headers=tenant.headers(Role.admin)).status_code == 204
    assert _get(client, tenant, package_code="growth")["source"] == "built_in"
    actions = db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == tenant.id,
                                                       AuditLog.action == "negotiation_policy.delete")).all()
    assert len(actions) == 2


@pytest.mark.parametrize(("body", "params", "field"), [
    ({"approval_threshold_pct": "20", "max_discount_pct": "15"}, {}, "body"),
    ({"max_discount_pct": "100.01"}, {}, "max_discount_pct"),
    ({"max_discount_pct": "-1"}, {}, "max_discount_pct"),
    ({"max_discount_pct": "12.345"}, {}, "max_discount_pct"),
    ({"max_rounds": 0}, {}, "max_rounds"),
    ({"max_rounds": 21}, {}, "max_rounds"),
    ({"allowed_concessions": ["free_lunch"]}, {}, "allowed_concessions.0"),
    ({"allowed_concessions": ["longer_term", "longer_term"]}, {}, "allowed_concessions"),
    ({"surprise": True}, {}, "surprise"),
    ({"floor_price": "100.00"}, {}, "floor_price"),
    ({"floor_price": "-1.00"}, {"package_code": "growth"}, "floor_price"),
    ({"floor_price": 850.5}, {"package_code": "growth"}, "floor_price"),
    ({"floor_price": "850.005"}, {"package_code": "growth"}, "floor_price"),
    ({"floor_price": "850.50"}, {"package_code": "yen"}, "floor_price"),
    ({"floor_price": "1000.01"}, {"package_code": "growth"}, "floor_price"),
    ({"floor_price": "850.00", "currency": "USD"}, {"package_code": "growth"}, "currency"),
    ({"floor_price": "850.00", "currency": "EURO"}, {"package_code": "growth"}, "currency"),
    ({}, {"package_code": "platinum"}, "package_code"),
])
def test_invalid_policies_are_422_naming_the_field_and_change_nothing(db, client, body, params, field):
    tenant = make_tenant(db)
    add_item(db, tenant.id, code="growth", list_price="1000.00", currency="EUR")
    add_item(db, tenant.id, code="yen", list_price="100000", currency="JPY")
    response = _put(client, tenant, body, **params)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert db.scalars(select(NegotiationPolicy).where(NegotiationPolicy.tenant_id == tenant.id)).all() == []


def test_another_tenants_policy_is_not_seen(db, client):
    ours, theirs = make_tenant(db), make_tenant(db)
    rebind(db, ours.id)
    add_item(db, ours.id, code="growth")
    assert _put(client, ours, {**POLICY, "floor_price": "900.00"}, package_code="growth").status_code == 200
    assert _get(client, theirs, package_code="growth")["source"] == "built_in"
    assert _put(client, theirs, {}, package_code="growth").status_code == 422  # not in their price book
