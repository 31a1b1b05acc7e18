"""Roles and tenancy across the coaching API: operators write check-ins and plans, reviewers close cards and
decide plan changes, everyone reads; another tenant's clients, check-ins, plans, cards and plan changes are
404 whatever the role (never 403)."""

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import bind_tenant
from app.models import CheckIn, PlanVersion
from tests.builders import make_tenant
from tests.coaching.helpers import PLAN, add_client, add_plan, plan, propose
from tests.coaching.test_cards import MISSED, _record


@pytest.fixture
def world(db):
    """A tenant with a client who has a check-in, a plan, a card and a proposed plan change."""
    tenant = make_tenant(db)
    coachee = add_client(db, tenant.id)
    add_plan(db, tenant.id, coachee.id)
    db.add(CheckIn(tenant_id=tenant.id, client_id=coachee.id, day="2025-03-03", mood=3))
    db.flush()
    (card,) = _record(db, tenant, coachee.id, [MISSED])
    change = propose(db, tenant.id, coachee.id)
    return tenant, coachee, card, change


def _requests(coachee, card, change) -> list[tuple[str, str, dict | list | None]]:
    client_url = f"/api/v1/clients/{coachee.id}"
    return [
        ("GET", f"{client_url}/check-ins", None),
        ("POST", f"{client_url}/check-ins", {"day": "2025-03-04", "mood": 4}),
        ("POST", f"{client_url}/check-ins/import", [{"day": "2025-03-05", "mood": 4}]),
        ("GET", f"{client_url}/plan", None),
        ("PUT", f"{client_url}/plan", {"content": plan(cardio_minutes_per_week=10), "base_version": 1}),
        ("GET", f"{client_url}/plan/versions", None),
        ("GET", f"/api/v1/coaching-cards/{card.id}", None),
        ("PATCH", f"/api/v1/coaching-cards/{card.id}", {"status": "done"}),
        ("GET", f"/api/v1/plan-changes/{change.id}", None),
        ("POST", f"/api/v1/reviews/plan_change/{change.id}/decision", {"decision": "approve"}),
    ]


def test_another_tenants_records_are_404_for_every_role(db, client, world):
    tenant, coachee, card, change = world
    stranger = make_tenant(db)
    for method, url, body in _requests(coachee, card, change):
        for role in (Role.owner, Role.viewer):
            response = client.request(method, url, json=body, headers=stranger.headers(role))
            assert response.status_code == 404, (method, url, role, response.text)
    listed = client.get("/api/v1/coaching-cards", params={"client_id": str(coachee.id)},
                        headers=stranger.headers(Role.owner))
    assert listed.json()["items"] == []
    bind_tenant(db, tenant.id)
    assert db.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.client_id == coachee.id)) == 1
    assert db.scalar(select(func.count()).select_from(PlanVersion)) == 1


WRITER = {"POST": Role.operator, "PUT": Role.operator, "PATCH": Role.reviewer}


@pytest.mark.parametrize("role", [Role.viewer, Role.reviewer, Role.operator])
def test_roles(db, client, world, role):
    tenant, coachee, card, change = world
    for method, url, body in _requests(coachee, card, change):
        if url.endswith("/decision"):
            continue  # tests/coaching/test_plan_changes.py and the review mechanism's own tests
        response = client.request(method, url, json=body, headers=tenant.headers(role))
        minimum = WRITER.get(method, Role.viewer)
        allowed = list(Role).index(role) <= list(Role).index(minimum)
        assert response.status_code in ((200, 201) if allowed else (403,)), (method, url, role, response.text)


def test_a_plan_write_refused_for_the_role_changes_nothing(db, client, world):
    tenant, coachee, _, _ = world
    response = client.put(f"/api/v1/clients/{coachee.id}/plan", json={"content": PLAN, "base_version": 1},
                          headers=tenant.headers(Role.reviewer))
    assert response.status_code == 403
    assert db.scalar(select(func.count()).select_from(PlanVersion)) == 1
