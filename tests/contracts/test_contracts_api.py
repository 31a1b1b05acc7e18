"""Contracts: one per won deal, written by the finance agent (rewritten by a later run), read-only over HTTP,
money as a string; another tenant's contract is 404."""

from decimal import Decimal

import pytest

from sqlalchemy import select

from app.auth.permissions import Role
from app.contracts.service import record_contract
from app.core.context import TenantContext
from app.core.errors import UnprocessableEntity
from app.models import AuditLog
from tests.builders import make_tenant, rebind
from tests.invoices.helpers import BUYER, SELLER, won_deal

CONTRACTS = "/api/v1/contracts"


def _contract(db, tenant_id, deal, **changes):
    terms = {"parties": {"seller": SELLER, "buyer": BUYER}, "price": Decimal("1250.00"), "term_months": 12,
             "payment_terms": "Billed monthly in advance; each invoice is payable within 14 days.",
             "summary": "Growth for Analytical Engines at 1250.00 EUR per month for 12 months.", "run_id": None,
             **changes}
    return record_contract(db, TenantContext.system(tenant_id), deal=deal, **terms)


def test_a_deals_contract_is_written_once_and_rewritten_in_place(db, client):
    tenant = make_tenant(db)
    lead, deal = won_deal(db, tenant.id)
    first = _contract(db, tenant.id, deal)
    again = _contract(db, tenant.id, deal, term_months=24, summary="Now for 24 months.")
    assert again.id == first.id and again.term_months == 24

    body = client.get(f"{CONTRACTS}/{first.id}", headers=tenant.headers(Role.viewer)).json()
    assert (body["deal_id"], body["lead_id"], body["package_code"], body["price"], body["currency"]) == (
        str(deal.id), str(lead.id), deal.package_code, "1250.00", "EUR")
    assert (body["term_months"], body["summary"], body["parties"]["seller"]) == (24, "Now for 24 months.", SELLER)
    listed = client.get(CONTRACTS, params={"deal_id": str(deal.id)}, headers=tenant.headers(Role.viewer)).json()
    assert [c["id"] for c in listed["items"]] == [str(first.id)] and listed["next_cursor"] is None
    assert client.get(CONTRACTS, params={"lead_id": str(lead.id)},
                      headers=tenant.headers(Role.viewer)).json()["items"] == listed["items"]
    actions = list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(first.id))
                              .order_by(AuditLog.id)))
    assert actions == ["contract.create", "contract.update"]


def test_a_price_finer_than_the_currency_is_refused(db):
    tenant = make_tenant(db)
    _, deal = won_deal(db, tenant.id, amount="1000", currency="JPY")
    with pytest.raises(UnprocessableEntity, match="JPY"):
        _contract(db, tenant.id, deal, price=Decimal("999.5"))


def test_contracts_are_read_only_and_another_tenants_are_404(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    _, their_deal = won_deal(db, other.id)
    theirs = _contract(db, other.id, their_deal)
    rebind(db, tenant.id)
    owner = tenant.headers(Role.owner)
    assert client.get(f"{CONTRACTS}/{theirs.id}", headers=owner).status_code == 404
    assert client.get(CONTRACTS, headers=owner).json()["items"] == []
    assert client.get(CONTRACTS, params={"deal_id": str(their_deal.id)}, headers=owner).json()["items"] == []
    assert client.post(CONTRACTS, json={}, headers=owner).status_code == 405
    assert client.patch(f"{CONTRACTS}/{theirs.id}", json={}, headers=owner).status_code == 405
