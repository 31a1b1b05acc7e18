"""Plans over HTTP: the first PUT writes version 1, every change a new version made from the current one
(base_version or If-Match: 409 when stale, 428 when missing), a bad plan is 422 and changes nothing."""

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.coaching import service
from app.coaching.schemas import PlanContent
from app.core.context import TenantContext
from app.models import AuditLog, PlanVersion
from tests.builders import make_tenant
from tests.coaching.helpers import PLAN, add_client, plan


@pytest.fixture
def coached(db):
    tenant = make_tenant(db)
    return tenant, add_client(db, tenant.id)


def _url(client_id) -> str:
    return f"/api/v1/clients/{client_id}/plan"


def _versions(db) -> int:
    return db.scalar(select(func.count()).select_from(PlanVersion))


def test_the_first_put_writes_version_1_and_each_change_a_new_version(db, client, coached):
    tenant, coachee = coached
    headers, viewer = tenant.headers(Role.operator), tenant.headers(Role.viewer)
    assert client.get(_url(coachee.id), headers=viewer).status_code == 404
    assert service.current_plan(db, TenantContext.system(tenant.id), coachee.id) is None

    first = client.put(_url(coachee.id), json={"content": PLAN}, headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["current_version"], first.json()["current"]["source"], first.headers["ETag"]) == (
        1, "initial", '"1"')
    assert first.json()["current"]["weekly_sets"] == 50

    read = client.get(_url(coachee.id), headers=viewer)
    assert read.json()["current"]["content"] == PLAN and read.headers["ETag"] == '"1"'

    by_body = client.put(_url(coachee.id), json={"content": plan(cardio_minutes_per_week=120), "base_version": 1},
                         headers=headers)
    assert by_body.status_code == 200, by_body.text
    assert (by_body.json()["current_version"], by_body.json()["current"]["source"]) == (2, "manual")
    by_header = client.put(_url(coachee.id), json={"content": plan(training_days_per_week=4)},
                           headers={**headers, "If-Match": read.headers["ETag"].replace("1", "2")})
    assert by_header.status_code == 200 and by_header.json()["current_version"] == 3

    unchanged = client.put(_url(coachee.id), json={"content": plan(training_days_per_week=4), "base_version": 3},
                           headers=headers)
    assert unchanged.json()["current_version"] == 3

    versions = client.get(f"{_url(coachee.id)}/versions", headers=viewer).json()
    assert [(item["version"], item["source"]) for item in versions["items"]] == [
        (3, "manual"), (2, "manual"), (1, "initial")]
    assert versions["items"][1]["content"]["cardio_minutes_per_week"] == 120
    assert versions["items"][0]["created_by_id"] == str(tenant.users[Role.operator])

    found = service.current_plan(db, TenantContext.system(tenant.id), coachee.id)
    assert found is not None and (found[0].current_version, found[1].version) == (3, 3)
    assert PlanContent.model_validate(found[1].content).training_days_per_week == 4
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "plan.version")) == 3


def test_a_stale_or_missing_base_version_is_refused_and_changes_nothing(db, client, coached):
    tenant, coachee = coached
    headers = tenant.headers(Role.operator)
    url = _url(coachee.id)
    assert client.put(url, json={"content": PLAN, "base_version": 1}, headers=headers).status_code == 409
    assert client.put(url, json={"content": PLAN}, headers=headers).status_code == 200
    assert client.put(url, json={"content": plan(cardio_minutes_per_week=10), "base_version": 1},
                      headers=headers).status_code == 200

    stale = client.put(url, json={"content": plan(cardio_minutes_per_week=0), "base_version": 1}, headers=headers)
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert client.put(url, json={"content": plan(cardio_minutes_per_week=0)},
                      headers={**headers, "If-Match": '"1"'}).status_code == 409
    missing = client.put(url, json={"content": plan(cardio_minutes_per_week=0)}, headers=headers)
    assert missing.status_code == 428 and missing.json()["current_version"] == 2
    disagree = client.put(url, json={"content": PLAN, "base_version": 2}, headers={**headers, "If-Match": '"1"'})
    assert disagree.status_code == 422
    assert client.put(url, json={"content": PLAN}, headers={**headers, "If-Match": "v-two"}).status_code == 422
    assert _versions(db) == 2
    assert client.get(url, headers=headers).json()["current"]["content"]["cardio_minutes_per_week"] == 10


@pytest.mark.parametrize(("content", "field"), [
    (plan(training_days_per_week=8), "content.training_days_per_week"),
    (plan(check_in_days=[]), "content.check_in_days"),
    (plan(check_in_days=["mon", "mon"]), "content.check_in_days"),
    (plan(check_in_days=["monday"]), "content.check_in_days.0"),
    (plan(cardio_minutes_per_week=1501), "content.cardio_minutes_per_week"),
    (plan(nutrition={**PLAN["nutrition"], "calories_kcal": 900}), "content.nutrition.calories_kcal"),
    (plan(nutrition={**PLAN["nutrition"], "fat_g": 301}), "content.nutrition.fat_g"),
    (plan(sessions=[{"day": "mon", "name": "Legs", "duration_minutes": 5, "sets": 10}]),
     "content.sessions.0.duration_minutes"),
    (plan(sessions=[{"day": "mon", "name": "Legs", "duration_minutes": 60, "sets": 61}]), "content.sessions.0.sets"),
    (plan(steps=10000), "content.steps"),
])
def test_a_bad_plan_is_422_naming_the_field_and_changes_nothing(db, client, coached, content, field):
    tenant, coachee = coached
    headers = tenant.headers(Role.operator)
    assert client.put(_url(coachee.id), json={"content": PLAN}, headers=headers).status_code == 200
    response = client.put(_url(coachee.id), json={"content": content, "base_version": 1}, headers=headers)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert _versions(db) == 1
