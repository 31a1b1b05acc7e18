"""Check-ins over HTTP: ranges (422, nothing written), one per client-local day (a second one updates it),
the newest first with date filters and a cursor, and the bulk import's per-row results."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.coaching import service
from app.core.context import TenantContext
from app.models import AuditLog, CheckIn
from tests.builders import make_tenant
from tests.coaching.helpers import add_client

DAY = "2025-01-06"


def _url(client_id) -> str:
    return f"/api/v1/clients/{client_id}/check-ins"


def _count(db, client_id) -> int:
    return db.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.client_id == client_id))


@pytest.fixture
def coached(db):
    tenant = make_tenant(db)
    return tenant, add_client(db, tenant.id, timezone="Pacific/Kiritimati")


FULL = {"day": DAY, "weight_kg": 81.4, "sleep_hours": 7.5, "sleep_quality": 4, "stress": 2, "mood": 4, "soreness": 3,
        "energy": 4, "training_adherence_pct": 100, "nutrition_adherence_pct": 85, "notes": "Felt strong"}


@pytest.mark.parametrize(("field", "value"), [
    ("sleep_quality", 0), ("stress", 6), ("mood", -1), ("soreness", 9), ("energy", 0), ("weight_kg", 0),
    ("weight_kg", 500), ("weight_kg", "81.123"), ("sleep_hours", 24.5), ("sleep_hours", -1),
    ("training_adherence_pct", 101), ("nutrition_adherence_pct", -5), ("day", "last tuesday"), ("mood", 3.5),
    ("colour", "red"),
])
def test_out_of_range_values_are_422_naming_the_field_and_write_nothing(db, client, coached, field, value):
    tenant, coachee = coached
    response = client.post(_url(coachee.id), json={**FULL, field: value}, headers=tenant.headers(Role.operator))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]
    assert _count(db, coachee.id) == 0


def test_a_day_that_has_not_begun_for_the_client_is_422(db, client, coached):
    tenant, coachee = coached  # UTC+14: their today is at least ours
    tomorrow_there = (datetime.now(UTC) + timedelta(hours=14)).date() + timedelta(days=1)
    response = client.post(_url(coachee.id), json={"day": str(tomorrow_there), "mood": 3},
                           headers=tenant.headers(Role.operator))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "day"
    today_there = str(tomorrow_there - timedelta(days=1))
    assert client.post(_url(coachee.id), json={"day": today_there, "mood": 3},
                       headers=tenant.headers(Role.operator)).status_code == 201


def test_a_second_check_in_for_the_day_updates_it_with_the_fields_sent(db, client, coached):
    tenant, coachee = coached
    headers = tenant.headers(Role.operator)
    first = client.post(_url(coachee.id), json=FULL, headers=headers)
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["weight_kg"], made["sleep_hours"], made["day"]) == ("81.40", "7.50", DAY)

    second = client.post(_url(coachee.id), json={"day": DAY, "mood": 2, "notes": None}, headers=headers)
    assert second.status_code == 200, second.text
    updated = second.json()
    assert (updated["id"], updated["mood"], updated["notes"], updated["weight_kg"], updated["energy"]) == (
        made["id"], 2, None, "81.40", 4)
    assert _count(db, coachee.id) == 1
    same = client.post(_url(coachee.id), json={"day": DAY, "mood": 2}, headers=headers)
    assert same.status_code == 200
    actions = list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == made["id"]).order_by(AuditLog.id)))
    assert actions == ["check_in.create", "check_in.update"]
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "check_in.update",
                                              AuditLog.entity_id == made["id"])).one()
    assert (entry.before["mood"], entry.after["mood"], entry.actor_id) == (4, 2, tenant.users[Role.operator])


def test_the_list_is_newest_first_with_date_filters_and_a_cursor(db, client, coached):
    tenant, coachee = coached
    headers = tenant.headers(Role.operator)
    start = date(2025, 1, 1)
    for offset in range(10):
        assert client.post(_url(coachee.id), json={"day": str(start + timedelta(days=offset)), "mood": 3},
                           headers=headers).status_code == 201
    viewer = tenant.headers(Role.viewer)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "from": "2025-01-02", "to": "2025-01-09", **({"cursor": cursor} if cursor else {})}
        page = client.get(_url(coachee.id), params=params, headers=viewer).json()
        seen += [item["day"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(start + timedelta(days=offset)) for offset in range(8, 0, -1)]
    assert client.get(_url(coachee.id), params={"cursor": "nope"}, headers=viewer).status_code == 400

    ctx = TenantContext.system(tenant.id)
    window = service.check_ins_between(db, ctx, coachee.id, date(2025, 1, 3), date(2025, 1, 5))
    assert [check_in.day for check_in in window] == [date(2025, 1, 3), date(2025, 1, 4), date(2025, 1, 5)]


def test_import_reports_each_row_and_an_invalid_row_changes_nothing(db, client, coached):
    tenant, coachee = coached
    headers = tenant.headers(Role.operator)
    assert client.post(_url(coachee.id), json={"day": "2025-01-01", "mood": 3, "stress": 2},
                       headers=headers).status_code == 201
    far = str(datetime.now(UTC).date() + timedelta(days=30))
    rows = [
        {"day": "2025-01-01", "mood": 4},                      # 1 updates the day's check-in
        {"day": "2025-01-02", "mood": 3, "weight_kg": 80},     # 2 created
        {"day": "2025-01-03", "stress": 7},                    # 3 out of range
        {"day": "2025-01-02", "mood": 5},                      # 4 the same day as row 2
        "not an object",                                       # 5
        {"day": far, "mood": 3},                               # 6 not begun for the client
        {"day": "2025-01-04", "energy": 2, "extra": 1},        # 7 unknown field
        {"day": "2025-01-05"},                                 # 8 created, empty
    ]
    response = client.post(f"{_url(coachee.id)}/import", json=rows, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [(row["row"], row["status"]) for row in result["rows"]] == [
        (1, "updated"), (2, "created"), (3, "invalid"), (4, "invalid"), (5, "invalid"), (6, "invalid"),
        (7, "invalid"), (8, "created")]
    assert (result["created"], result["updated"], result["unchanged"], result["invalid"]) == (2, 1, 0, 5)
    assert result["rows"][2]["errors"][0]["field"] == "3.stress"
    assert "row 2" in result["rows"][3]["errors"][0]["message"]
    assert result["rows"][6]["errors"][0]["field"] == "7.extra"
    days = {check_in.day: check_in for check_in in db.scalars(select(CheckIn).where(
        CheckIn.client_id == coachee.id).execution_options(populate_existing=True))}
    assert sorted(days) == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 5)]
    assert (days[date(2025, 1, 1)].mood, days[date(2025, 1, 1)].stress, days[date(2025, 1, 2)].mood) == (4, 2, 3)

    again = client.post(f"{_url(coachee.id)}/import", json=rows[:2], headers=headers).json()
    assert [row["status"] for row in again["rows"]] == ["unchanged", "unchanged"]


def test_an_import_needs_rows_and_has_a_limit(db, client, coached):
    tenant, coachee = coached
    headers = tenant.headers(Role.operator)
    url = f"{_url(coachee.id)}/import"
    assert client.post(url, json=[], headers=headers).status_code == 422
    assert client.post(url, json={"day": DAY}, headers=headers).status_code == 422
    too_many = [{"day": str(date(2020, 1, 1) + timedelta(days=n))} for n in range(service.MAX_IMPORT_ROWS + 1)]
    assert client.post(url, json=too_many, headers=headers).status_code == 422
    assert _count(db, coachee.id) == 0
