"""The finance agent through the real executor, on committed records: a won deal becomes a contract and a
draft invoice whose totals code computed, waiting for review; approving it issues the invoice with a number
and makes the lead a client. Deals that are not won, invoiced already or badly configured fail for good."""

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import Client, Contract, Deal, Invoice, InvoiceLine, NegotiationRound, PriceBookItem, Review
from app.runs import service as runs
from tests.agents.helpers import FIT_LEAD, PRICE_BOOK
from tests.invoices.helpers import delete_tenants
from tests.llm.fake_providers import Answer, FakeProvider
from tests.records import add_deal, add_item

FINANCE_STEPS = ["load", "contract", "memo", "open_invoice_review"]


@pytest.fixture
def finance_world(world, owner_engine):
    """The agents' world, deleted afterwards with its invoices and number series."""
    yield world
    delete_tenants(owner_engine, [world.tenant.id])


def _deal(world, *, stage: str = "won", amount: str = "1150.00", lead_status: str = "proposal",
          **lead_fields) -> uuid.UUID:
    lead_id = world.add_lead(status=lead_status, **{**FIT_LEAD, **lead_fields})
    with session_scope(world.tenant.id) as session:
        item = session.scalar(select(PriceBookItem).where(PriceBookItem.code == "growth")) or add_item(
            session, world.tenant.id, **next(item for item in PRICE_BOOK if item["code"] == "growth"))
        deal = add_deal(session, world.tenant.id, world.lead(lead_id), item, stage=stage)
        deal.amount = Decimal(amount)  # what the negotiation conceded
        deal.proposal = {"billing_period": "monthly"}
        return deal.id


def _run(world, deal_id: uuid.UUID):
    with session_scope(world.tenant.id) as session:
        run_id = runs.create_run(session, world.ctx, "finance", {"deal_id": str(deal_id)}).id
    return world.execute(run_id)


def test_a_won_deal_gets_a_contract_and_a_draft_invoice_waiting_for_review(finance_world):
    world = finance_world
    world.set_settings(finance={"seller": {"name": "Agentline Demo GmbH", "vat_id": "DE123456789"}})
    deal_id = _deal(world)

    run = _run(world, deal_id)

    assert run.status == "awaiting_review", run.error
    assert world.steps(run.id) == FINANCE_STEPS
    output = run.output
    assert (output["price"], output["currency"], output["term_months"], output["offline"]) == (
        "1150.00", "EUR", 12, True)
    assert output["invoice"]["lines"] == [{
        "description": "Growth (growth), monthly fee: first month of the 12-month term", "quantity": "1",
        "unit_price": "1150.00", "tax_rate": "19.00", "net_amount": "1150.00"}]
    assert (output["invoice"]["line_total"], output["invoice"]["tax_total"], output["invoice"]["total_with_tax"]) == (
        "1150.00", "218.50", "1368.50")
    assert "1150.00 EUR per month" in output["contract_summary"] and output["dropped"] == []

    [contract] = world.rows(Contract, deal_id=deal_id)
    assert (contract.id, contract.price, contract.term_months, contract.run_id) == (
        uuid.UUID(output["contract_id"]), Decimal("1150.0000"), 12, run.id)
    assert contract.parties["seller"] == {"name": "Agentline Demo GmbH", "vat_id": "DE123456789"}
    assert contract.parties["buyer"]["name"] == "Analytical Engines"
    [invoice] = world.rows(Invoice, deal_id=deal_id)
    assert (invoice.id, invoice.status, invoice.number, invoice.contract_id, invoice.run_id) == (
        uuid.UUID(output["invoice_id"]), "draft", None, contract.id, run.id)
    assert (invoice.total_with_tax, invoice.tax_total, invoice.memo) == (
        Decimal("1368.5000"), Decimal("218.5000"), output["memo"])
    assert len(world.rows(InvoiceLine, invoice_id=invoice.id)) == 1
    [review] = world.rows(Review, entity_type="invoice", entity_id=invoice.id)
    assert (review.id, review.status, review.agent, review.run_id) == (
        uuid.UUID(output["review_id"]), "pending", "finance", run.id)
    assert (review.proposal["total_with_tax"], review.proposal["memo"], review.proposal["payment_terms_days"]) == (
        "1368.50", output["memo"], 14)
    assert "1368.50 EUR" in review.summary


def test_approving_the_invoice_issues_it_with_a_number_and_makes_the_client(finance_world, live_client):
    world = finance_world
    deal_id = _deal(world)
    run = _run(world, deal_id)
    invoice_id = run.output["invoice_id"]

    response = live_client.post(f"/api/v1/reviews/invoice/{invoice_id}/decision", json={"decision": "approve"},
                                headers=world.tenant.headers(Role.reviewer))

    assert response.status_code == 200, response.text
    [invoice] = world.rows(Invoice, id=uuid.UUID(invoice_id))
    assert invoice.status == "issued" and invoice.number == f"INV-{invoice.issue_date.year}-00001"
    assert (invoice.due_date - invoice.issue_date).days == 14
    [client] = world.rows(Client)
    [deal] = world.rows(Deal, id=deal_id)
    assert (client.lead_id, client.deal_id, invoice.client_id, client.name) == (
        deal.lead_id, deal_id, client.id, FIT_LEAD["name"])
    assert world.lead(deal.lead_id).status == "won"
    assert world.run(run.id).status == "succeeded"
    body = live_client.get(f"/api/v1/invoices/{invoice_id}", headers=world.tenant.headers(Role.viewer)).json()
    assert (body["status"], body["number"], body["client_id"]) == ("issued", invoice.number, str(client.id))


def test_deals_that_cannot_be_invoiced_fail_for_good_with_the_reason(finance_world):
    world = finance_world
    in_negotiation = _run(world, _deal(world, stage="negotiation"))
    assert (in_negotiation.status, in_negotiation.error["code"]) == ("failed", "deal_not_won")
    assert "'negotiation'" in in_negotiation.error["message"]
    missing = _run(world, uuid.uuid4())
    assert (missing.status, missing.error["code"]) == ("failed", "not_found")

    deal_id = _deal(world, email="second@example.com")
    assert _run(world, deal_id).status == "awaiting_review"
    pending = _run(world, deal_id)
    assert (pending.status, pending.error["code"]) == ("failed", "invoice_pending")
    assert len(world.rows(Invoice, deal_id=deal_id)) == 1

    world.set_settings(finance={"tax_rate": "150"})
    invalid = _run(world, _deal(world, email="third@example.com"))
    assert (invalid.status, invalid.error["code"]) == ("failed", "finance_settings_invalid")
    assert "settings.finance.tax_rate" in invalid.error["message"]


def test_settings_and_the_negotiated_term_shape_the_invoice(finance_world):
    world = finance_world
    world.set_settings(finance={"tax_rate": "7", "invoice_schedule": "full_term", "payment_terms_days": 30})
    deal_id = _deal(world, amount="1000.00")
    with session_scope(world.tenant.id) as session:
        session.add(NegotiationRound(tenant_id=world.tenant.id, deal_id=deal_id, round=1, side="client",
                                     kind="accept", amount=Decimal("1000.00"), currency="EUR",
                                     terms={"term_months": 6}, status="received", created_by_type="system"))

    run = _run(world, deal_id)

    assert run.status == "awaiting_review", run.error
    assert run.output["term_months"] == 6 and "6 months" in run.output["contract_summary"]
    [line] = run.output["invoice"]["lines"]
    assert (line["quantity"], line["unit_price"], line["tax_rate"], line["net_amount"]) == (
        "6", "1000.00", "7.00", "6000.00")
    assert (run.output["invoice"]["tax_total"], run.output["invoice"]["total_with_tax"]) == ("420.00", "6420.00")
    assert "within 30 days" in run.output["payment_terms"]


def test_numbers_the_model_gets_wrong_are_repaired_or_dropped(finance_world, llm_env):
    world = finance_world
    deal_id = _deal(world)
    wrong_price = {"summary": "Analytical Engines takes Growth for 12 months. The price is 990.00 EUR per month."}
    dated_memo = {"memo": "Thank you, Ada. Please pay 1368.50 EUR by 2030-01-31."}
    with FakeProvider("openai", Answer(wrong_price), Answer(wrong_price), Answer(dated_memo),
                      Answer(dated_memo)) as fake:
        llm_env(OPENAI_BASE_URL=fake.base_url)
        world.set_settings(llm={"provider": "openai", "model": "gpt-4o-mini"})
        run = _run(world, deal_id)

    assert run.status == "awaiting_review", run.error
    assert "states 990 EUR" in str(fake.requests[1])  # the repair named the problem
    assert run.output["contract_summary"] == "Analytical Engines takes Growth for 12 months."
    assert run.output["dropped"] == ["The price is 990.00 EUR per month.",
                                     "Please pay 1368.50 EUR by 2030-01-31."]
    assert run.output["memo"] == "Thank you, Ada."
    [invoice] = world.rows(Invoice, deal_id=deal_id)
    assert invoice.total_with_tax == Decimal("1368.5000")  # the model never touched a number
