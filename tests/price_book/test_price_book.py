"""The price book over HTTP: money checked against its currency, strings in JSON; and what the sales agent
reads (`active_items`, `get_by_code`)."""

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.models import AuditLog, PriceBookItem
from app.price_book.service import active_items, get_by_code
from tests.builders import make_tenant, rebind
from tests.records import add_deal, add_item, add_lead

PRICE_BOOK = "/api/v1/price-book"


def _item(**fields) -> dict:
    return {"code": "Growth-M", "name": "Growth", "description": "Ten seats", "currency": "EUR",
            "list_price": "1250.00", "billing_period": "monthly", **fields}


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def _items(db, tenant) -> list[PriceBookItem]:
    return list(db.scalars(select(PriceBookItem).where(PriceBookItem.tenant_id == tenant.id)
                           .execution_options(populate_existing=True)))


@pytest.mark.parametrize(("currency", "sent", "shown"), [
    ("EUR", "1250", "1250.00"), ("EUR", "1250.5", "1250.50"), ("JPY", "150000", "150000"), ("KWD", 12, "12.000"),
    ("usd", "0.01", "0.01"),
])
def test_prices_are_strings_at_the_currencys_minor_unit(currency, sent, shown, db, client):
    tenant = make_tenant(db)
    response = client.post(PRICE_BOOK, json=_item(currency=currency, list_price=sent),
                           headers=tenant.headers(Role.operator))
    assert response.status_code == 201, response.text
    item = response.json()
    assert (item["code"], item["currency"], item["list_price"], item["active"]) == (
        "growth-m", currency.upper(), shown, True)
    assert client.get(f"{PRICE_BOOK}/{item['id']}", headers=tenant.headers(Role.viewer)).json()["list_price"] == shown
    entry = db.scalars(select(AuditLog).where(AuditLog.entity_id == item["id"])).one()
    assert (entry.action, entry.after["list_price"]) == ("price_book_item.create", shown)


@pytest.mark.parametrize(("fields", "message"), [
    ({"list_price": "12.345"}, "12.345 has more decimals than EUR allows (at most 2 decimals)"),
    ({"currency": "JPY", "list_price": "100.5"}, "100.5 has more decimals than JPY allows (no decimals)"),
    ({"list_price": "-10.00"}, "must be greater than zero, not -10.00"),
    ({"list_price": "0"}, "must be greater than zero, not 0"),
    ({"list_price": 12.5}, "not a JSON number with a fraction"),
    ({"list_price": "12,50"}, "is not a decimal number"),
    ({"currency": "EURO"}, "is not an ISO 4217 currency code"),
    ({"billing_period": "weekly"}, "'one_time', 'monthly', 'quarterly' or 'yearly'"),
    ({"code": "no spaces"}, "String should match pattern"),
])
def test_bad_money_and_fields_are_422_and_create_nothing(fields, message, db, client):
    tenant = make_tenant(db)
    problem = _is_problem(client.post(PRICE_BOOK, json=_item(**fields), headers=tenant.headers(Role.operator)), 422)
    [error] = problem["errors"]
    assert message in error["message"], error
    assert _items(db, tenant) == []


def test_a_code_is_unique_in_the_tenant_whatever_its_case(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    assert client.post(PRICE_BOOK, json=_item(), headers=tenant.headers(Role.operator)).status_code == 201
    _is_problem(client.post(PRICE_BOOK, json=_item(code="GROWTH-m"), headers=tenant.headers(Role.operator)), 409)
    assert client.post(PRICE_BOOK, json=_item(), headers=other.headers(Role.operator)).status_code == 201


def test_patch_checks_a_new_price_or_currency_against_the_other(db, client):
    tenant = make_tenant(db)
    item = add_item(db, tenant.id, list_price="12.50", currency="EUR")
    headers = tenant.headers(Role.operator)
    url = f"{PRICE_BOOK}/{item.id}"
    problem = _is_problem(client.patch(url, json={"currency": "JPY", "name": "Renamed"}, headers=headers), 422)
    assert problem["title"] == "Validation failed"
    assert problem["errors"] == [{"field": "list_price", "type": "money",
                                  "message": "12.5 has more decimals than JPY allows (no decimals)"}]
    problem = _is_problem(client.patch(url, json={"list_price": "9.999"}, headers=headers), 422)
    assert problem["errors"][0]["message"] == "9.999 has more decimals than EUR allows (at most 2 decimals)"
    _is_problem(client.patch(url, json={"list_price": None}, headers=headers), 422)
    [unchanged] = _items(db, tenant)
    assert (unchanged.name, unchanged.currency, str(unchanged.list_price)) == ("Growth package", "EUR", "12.5000")

    response = client.patch(url, json={"currency": "KWD", "list_price": "9.999", "active": False}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["currency"], response.json()["list_price"], response.json()["active"]) == (
        "KWD", "9.999", False)
    response = client.patch(url, json={"currency": "USD", "list_price": "10"}, headers=headers)
    assert response.json()["list_price"] == "10.00"
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "price_book_item.update")
                       .order_by(AuditLog.id.desc())).first()
    assert (entry.before["list_price"], entry.after["list_price"]) == ("9.999", "10.00")


def test_patch_to_a_taken_code_is_409(db, client):
    tenant = make_tenant(db)
    add_item(db, tenant.id, code="basic")
    item = add_item(db, tenant.id, code="pro")
    _is_problem(client.patch(f"{PRICE_BOOK}/{item.id}", json={"code": "BASIC"}, headers=tenant.headers(Role.operator)),
                409)


def test_list_filters_active_and_pages(db, client):
    tenant = make_tenant(db)
    for index in range(3):
        add_item(db, tenant.id, code=f"on-{index}")
    add_item(db, tenant.id, code="off", active=False)
    headers = tenant.headers(Role.viewer)
    assert [i["code"] for i in client.get(PRICE_BOOK, params={"active": "false"}, headers=headers).json()["items"]] \
        == ["off"]
    first = client.get(PRICE_BOOK, params={"limit": 3}, headers=headers).json()
    second = client.get(PRICE_BOOK, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers).json()
    assert len(first["items"]) + len(second["items"]) == 4 and second["next_cursor"] is None
    assert all(isinstance(item["list_price"], str) for item in first["items"])


def test_delete_keeps_the_deals_copy_of_the_package(db, client):
    tenant = make_tenant(db)
    item = add_item(db, tenant.id, code="pro", list_price="99.00")
    deal = add_deal(db, tenant.id, add_lead(db, tenant.id), item)
    assert client.delete(f"{PRICE_BOOK}/{item.id}", headers=tenant.headers(Role.operator)).status_code == 204
    db.refresh(deal)
    assert (deal.package_id, deal.package_code, str(deal.list_price)) == (None, "pro", "99.0000")


def test_roles_and_tenancy(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs = add_item(db, other.id)
    rebind(db, tenant.id)
    mine = add_item(db, tenant.id)
    for verb, kwargs in (("get", {}), ("patch", {"json": {"name": "x"}}), ("delete", {})):
        _is_problem(client.request(verb, f"{PRICE_BOOK}/{theirs.id}", headers=tenant.headers(Role.owner), **kwargs),
                    404)
    _is_problem(client.post(PRICE_BOOK, json=_item(), headers=tenant.headers(Role.reviewer)), 403)
    _is_problem(client.patch(f"{PRICE_BOOK}/{mine.id}", json={"name": "x"}, headers=tenant.headers(Role.viewer)), 403)
    _is_problem(client.delete(f"{PRICE_BOOK}/{mine.id}", headers=tenant.headers(Role.viewer)), 403)
    assert [i["id"] for i in client.get(PRICE_BOOK, headers=tenant.headers(Role.viewer)).json()["items"]] == \
        [str(mine.id)]


def test_what_the_sales_agent_reads(db):
    tenant, other = make_tenant(db), make_tenant(db)
    add_item(db, other.id, code="theirs")
    rebind(db, tenant.id)
    ctx = TenantContext.system(tenant.id)
    pro, basic = add_item(db, tenant.id, code="pro"), add_item(db, tenant.id, code="basic")
    retired = add_item(db, tenant.id, code="retired", active=False)
    assert active_items(db, ctx) == [basic, pro]
    assert get_by_code(db, ctx, " PRO ") == pro
    assert get_by_code(db, ctx, "retired") == retired
    assert get_by_code(db, ctx, "theirs") is None
