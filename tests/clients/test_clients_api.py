"""Clients over HTTP: operators create and change them, everyone in the tenant reads them; time zones and
coaches are checked; one client per lead; another tenant's client is 404."""

from sqlalchemy import select

from app.auth.permissions import Role
from app.models import AuditLog, Tenant
from tests.builders import add_user, make_tenant, rebind
from tests.records import add_lead

CLIENTS = "/api/v1/clients"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_an_operator_creates_a_client_with_the_tenants_time_zone_by_default(db, client):
    tenant = make_tenant(db)
    db.get_one(Tenant, tenant.id).timezone = "Europe/Vienna"
    db.flush()
    coach = tenant.users[Role.reviewer]
    body = {"name": "Grace Hopper", "email": "Grace@Navy.example.com", "company": "US Navy", "goal": "Run a 10k",
            "start_date": "2030-01-06", "coach_id": str(coach)}

    response = client.post(CLIENTS, json=body, headers=tenant.headers(Role.operator))

    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["email"], made["timezone"], made["status"], made["coach_id"], made["start_date"]) == (
        "grace@navy.example.com", "Europe/Vienna", "active", str(coach), "2030-01-06")
    assert (made["lead_id"], made["deal_id"]) == (None, None)
    assert client.get(f"{CLIENTS}/{made['id']}", headers=tenant.headers(Role.viewer)).json() == made
    entry = db.scalars(select(AuditLog).where(AuditLog.entity_id == made["id"])).one()
    assert (entry.action, entry.actor_id, entry.after["coach_id"]) == ("client.create", tenant.users[Role.operator],
                                                                       str(coach))


def test_bad_fields_are_422_naming_them(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    stranger = other.users[Role.owner]
    rebind(db, tenant.id)
    retired = add_user(db, tenant.id, Role.viewer, is_active=False).id
    headers = tenant.headers(Role.operator)
    cases = [({"timezone": "Mars/Olympus"}, "timezone"), ({"status": "churned"}, "status"),
             ({"email": "nope"}, "email"), ({"name": " "}, "name"), ({"coach_id": str(stranger)}, "coach_id"),
             ({"coach_id": str(retired)}, "coach_id"), ({"lead_id": str(stranger)}, "lead_id"),
             ({"start_date": "yesterday"}, "start_date"), ({"tier": "gold"}, "tier")]
    for fields, field in cases:
        body = _problem(client.post(CLIENTS, json={"name": "Ada", **fields}, headers=headers), 422)
        assert field in [error["field"] for error in body["errors"]], (fields, body)


def test_one_client_per_lead(db, client):
    tenant = make_tenant(db)
    lead = add_lead(db, tenant.id)
    headers = tenant.headers(Role.operator)
    first = client.post(CLIENTS, json={"name": "Ada", "lead_id": str(lead.id)}, headers=headers)
    assert first.status_code == 201 and first.json()["lead_id"] == str(lead.id)
    _problem(client.post(CLIENTS, json={"name": "Ada again", "lead_id": str(lead.id)}, headers=headers), 409)


def test_patch_changes_what_is_sent_and_checks_it(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    made = client.post(CLIENTS, json={"name": "Ada", "coach_id": str(tenant.users[Role.admin])},
                       headers=headers).json()
    url = f"{CLIENTS}/{made['id']}"

    paused = client.patch(url, json={"status": "paused", "coach_id": None, "timezone": "Asia/Tokyo"}, headers=headers)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["status"], paused.json()["coach_id"], paused.json()["timezone"], paused.json()["name"]) == (
        "paused", None, "Asia/Tokyo", "Ada")
    for status in ("ended", "active"):
        assert client.patch(url, json={"status": status}, headers=headers).json()["status"] == status
    for fields, field in (({"name": None}, "body"), ({"status": None}, "body"), ({"timezone": "Nowhere"}, "timezone"),
                          ({"coach_id": str(made["id"])}, "coach_id")):
        body = _problem(client.patch(url, json=fields, headers=headers), 422)
        assert field in [error["field"] for error in body["errors"]], body
    _problem(client.patch(url, json={"status": "paused"}, headers=tenant.headers(Role.reviewer)), 403)
    actions = list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == made["id"]).order_by(AuditLog.id)))
    assert actions == ["client.create", "client.update", "client.update", "client.update"]


def test_viewers_read_and_only_operators_write(db, client):
    tenant = make_tenant(db)
    for role in (Role.viewer, Role.reviewer):
        _problem(client.post(CLIENTS, json={"name": "Ada"}, headers=tenant.headers(role)), 403)
    for role in (Role.operator, Role.admin, Role.owner):
        assert client.post(CLIENTS, json={"name": "Ada"}, headers=tenant.headers(role)).status_code == 201
    assert len(client.get(CLIENTS, headers=tenant.headers(Role.viewer)).json()["items"]) == 3


def test_listing_filters_and_pages(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    coach = str(tenant.users[Role.reviewer])
    lead = add_lead(db, tenant.id)
    coached = client.post(CLIENTS, json={"name": "A", "coach_id": coach}, headers=headers).json()
    paused = client.post(CLIENTS, json={"name": "B", "status": "paused", "lead_id": str(lead.id)},
                         headers=headers).json()
    plain = client.post(CLIENTS, json={"name": "C"}, headers=headers).json()
    viewer = tenant.headers(Role.viewer)

    def ids(**params) -> list[str]:
        return [c["id"] for c in client.get(CLIENTS, params=params, headers=viewer).json()["items"]]

    assert ids(status="paused") == [paused["id"]]
    assert ids(coach_id=coach) == [coached["id"]]
    assert ids(lead_id=str(lead.id)) == [paused["id"]]
    seen, cursor = [], None
    while True:
        page = client.get(CLIENTS, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=viewer).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([coached["id"], paused["id"], plain["id"]])
    _problem(client.get(CLIENTS, params={"cursor": "not-a-cursor"}, headers=viewer), 400)


def test_another_tenants_client_is_404(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs = client.post(CLIENTS, json={"name": "Theirs"}, headers=other.headers(Role.operator)).json()
    owner = tenant.headers(Role.owner)
    _problem(client.get(f"{CLIENTS}/{theirs['id']}", headers=owner), 404)
    _problem(client.patch(f"{CLIENTS}/{theirs['id']}", json={"name": "Mine"}, headers=owner), 404)
    assert client.get(CLIENTS, headers=owner).json()["items"] == []
