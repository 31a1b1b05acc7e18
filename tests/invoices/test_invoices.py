"""Invoices: issuing (checked, numbered, dated, the lead's client made and the lead won, the pipeline
signalled), immutability once issued (409 over HTTP and at the flush), the `invoice` review, reading over
HTTP with money as strings, roles and tenancy."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.errors import Conflict, UnprocessableEntity
from app.invoices import service as invoices
from app.invoices.numbering import Series, next_number
from app.invoices.service import InvoiceRulesBroken
from app.invoices.state import IssuedInvoiceIsFinal
from app.models import AuditLog, Client, Invoice, OutboxMessage, Tenant
from tests.builders import make_tenant, rebind
from tests.invoices.helpers import draft, issued_record, line, won_deal

INVOICES = "/api/v1/invoices"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def _actions(db, entity_id) -> list[str]:
    return list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(entity_id)).order_by(AuditLog.id)))


def test_issuing_an_invoice_of_a_won_deal_numbers_it_makes_the_client_and_signals_the_pipeline(db):
    tenant = make_tenant(db)
    db.get_one(Tenant, tenant.id).settings = {"finance": {"payment_terms_days": 30}}
    pipeline_id = uuid.uuid4()
    lead, deal = won_deal(db, tenant.id, timezone="Europe/Berlin", pipeline_id=pipeline_id)
    invoice = draft(db, tenant.id, deal=deal, pipeline_id=pipeline_id)
    ctx = TenantContext.system(tenant.id)

    issued = invoices.issue(db, ctx, invoice.id)

    today = invoices.tenant_today(db, tenant.id)
    assert (issued.status, issued.number) == ("issued", f"INV-{today.year}-00001")
    assert (issued.issue_date, issued.due_date) == (today, today + timedelta(days=30))
    assert issued.issued_at is not None
    client = db.scalars(select(Client).where(Client.lead_id == lead.id)).one()
    assert (client.name, client.email, client.company, client.timezone, client.deal_id, client.status) == (
        lead.name, lead.email, "Analytical Engines", "Europe/Berlin", deal.id, "active")
    assert (client.start_date, issued.client_id, lead.status) == (today, client.id, "won")
    signals = db.scalars(select(OutboxMessage).where(OutboxMessage.task == "pipelines.advance")).all()
    assert {"pipeline_id": str(pipeline_id), "tenant_id": str(tenant.id)} in [s.kwargs for s in signals]
    assert _actions(db, invoice.id) == ["invoice.draft", "invoice.issue"]
    assert _actions(db, client.id) == ["client.create"]


def test_a_lead_that_is_a_client_already_keeps_it_and_a_won_lead_stays_won(db):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    lead, deal = won_deal(db, tenant.id, lead_status="won")
    first = invoices.issue(db, ctx, draft(db, tenant.id, deal=deal).id)
    second = invoices.issue(db, ctx, draft(db, tenant.id, deal=deal).id)
    assert first.client_id == second.client_id and lead.status == "won"
    assert first.number.endswith("00001") and second.number.endswith("00002")
    assert len(db.scalars(select(Client).where(Client.lead_id == lead.id)).all()) == 1


def test_an_invoice_that_breaks_the_rules_is_refused_and_takes_no_number(db):
    tenant = make_tenant(db)
    invoice = draft(db, tenant.id, line(quantity="3", unit_price="9.99"))
    invoice.total_with_tax = invoice.total_with_tax + Decimal("0.01")  # stored wrong, however it happened
    invoice.amount_due = invoice.total_with_tax
    db.flush()

    with pytest.raises(InvoiceRulesBroken) as refused:
        invoices.issue(db, TenantContext.system(tenant.id), invoice.id)

    assert refused.value.status == 422 and refused.value.extra["rules"] == ["BR-CO-15"]
    assert "BR-CO-15" in refused.value.detail
    assert (invoice.status, invoice.number) == ("draft", None)
    assert next_number(db, tenant.id, Series.invoice, 2030).endswith("00001")


def test_drafts_in_currencies_en_16931_cannot_carry_are_refused(db):
    tenant = make_tenant(db)
    with pytest.raises(UnprocessableEntity, match="KWD has 3 decimals"):
        draft(db, tenant.id, currency="KWD")


def test_an_issued_invoice_and_its_lines_cannot_be_changed_by_any_code_path(db):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    invoice = invoices.issue(db, ctx, draft(db, tenant.id).id)
    [stored_line] = invoices.lines_of(db, invoice)

    with db.begin_nested():
        invoice.memo = "changed afterwards"
        with pytest.raises(IssuedInvoiceIsFinal) as refused:
            db.flush()
    assert refused.value.status == 409
    db.refresh(invoice)
    with db.begin_nested():
        stored_line.unit_price = Decimal("1.00")
        with pytest.raises(IssuedInvoiceIsFinal):
            db.flush()
    db.refresh(stored_line)

    assert invoices.cancel_draft(db, ctx, invoice.id, "too late").status == "issued"  # a cancelled pipeline
    with pytest.raises(Conflict):
        invoices.issue(db, ctx, invoices.cancel_draft(db, ctx, draft(db, tenant.id).id, "rejected").id)


def test_invoices_over_http_with_lines_totals_breakdown_and_money_as_strings(db, client):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    _, deal = won_deal(db, tenant.id)
    issued = invoices.issue(db, ctx, draft(db, tenant.id, line(quantity="3", unit_price="0.335"),
                                           line(description="Setup", quantity="1", unit_price="100", tax_rate="7"),
                                           deal=deal).id)
    waiting = draft(db, tenant.id)

    response = client.get(f"{INVOICES}/{issued.id}", headers=tenant.headers(Role.viewer))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["number"], body["currency"], body["deal_id"]) == (
        "issued", issued.number, "EUR", str(deal.id))
    assert [(line["position"], line["quantity"], line["unit_price"], line["tax_rate"], line["net_amount"])
            for line in body["lines"]] == [(1, "3", "0.335", "19.00", "1.01"), (2, "1", "100.00", "7.00", "100.00")]
    assert body["tax_breakdown"] == [{"rate": "7.00", "taxable_amount": "100.00", "tax_amount": "7.00"},
                                     {"rate": "19.00", "taxable_amount": "1.01", "tax_amount": "0.19"}]
    assert (body["line_total"], body["tax_total"], body["total_with_tax"], body["paid_amount"],
            body["rounding_amount"], body["amount_due"]) == ("101.01", "7.19", "108.20", "0.00", "0.00", "108.20")
    assert (body["credited_total"], body["left_to_credit"], body["credit_notes"]) == ("0.00", "108.20", [])
    assert body["seller"]["vat_id"] == "DE123456789" and body["issue_date"] and body["due_date"]

    listed = client.get(INVOICES, headers=tenant.headers(Role.viewer)).json()["items"]
    assert {item["id"]: item["number"] for item in listed} == {str(waiting.id): None, str(issued.id): issued.number}
    assert all("lines" not in item for item in listed)
    only_issued = client.get(INVOICES, params={"status": "issued"}, headers=tenant.headers(Role.viewer)).json()
    assert [item["id"] for item in only_issued["items"]] == [str(issued.id)]
    by_deal = client.get(INVOICES, params={"deal_id": str(deal.id)}, headers=tenant.headers(Role.viewer)).json()
    by_client = client.get(INVOICES, params={"client_id": str(issued.client_id)},
                           headers=tenant.headers(Role.viewer)).json()
    assert [i["id"] for i in by_deal["items"]] == [i["id"] for i in by_client["items"]] == [str(issued.id)]
    first = client.get(INVOICES, params={"limit": 1}, headers=tenant.headers(Role.viewer)).json()
    rest = client.get(INVOICES, params={"limit": 1, "cursor": first["next_cursor"]},
                      headers=tenant.headers(Role.viewer)).json()
    assert sorted(i["id"] for i in first["items"] + rest["items"]) == sorted([str(waiting.id), str(issued.id)])
    assert rest["next_cursor"] is None


def test_patch_and_delete_are_409_saying_how_an_invoice_changes(db, client):
    tenant = make_tenant(db)
    issued = invoices.issue(db, TenantContext.system(tenant.id), draft(db, tenant.id).id)
    waiting = draft(db, tenant.id)
    operator = tenant.headers(Role.operator)

    for response in (client.patch(f"{INVOICES}/{issued.id}", json={"memo": "x"}, headers=operator),
                     client.delete(f"{INVOICES}/{issued.id}", headers=operator)):
        body = _problem(response, 409)
        assert "credit note" in body["detail"] and body["invoice_status"] == "issued"
    assert "review" in _problem(client.patch(f"{INVOICES}/{waiting.id}", json={"memo": "x"}, headers=operator),
                                409)["detail"]
    _problem(client.delete(f"{INVOICES}/{issued.id}", headers=tenant.headers(Role.viewer)), 403)
    db.refresh(issued)
    assert issued.memo == "Thank you." and issued.status == "issued"


def test_another_tenants_invoices_are_404_whatever_the_role(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs = issued_record(db, other.id)
    rebind(db, tenant.id)
    owner = tenant.headers(Role.owner)
    for response in (client.get(f"{INVOICES}/{theirs.id}", headers=owner),
                     client.patch(f"{INVOICES}/{theirs.id}", json={}, headers=owner),
                     client.delete(f"{INVOICES}/{theirs.id}", headers=owner),
                     client.post(f"{INVOICES}/{theirs.id}/credit-notes", json={"reason": "x", "amount": "1"},
                                 headers=owner)):
        _problem(response, 404)
    assert client.get(INVOICES, headers=owner).json()["items"] == []
    assert client.get(INVOICES, params={"deal_id": str(theirs.id)}, headers=owner).json()["items"] == []


# --- the invoice review ---------------------------------------------------------------------------------


def _review(db, tenant_id, invoice: Invoice, days: int = 14):
    return invoices.open_invoice_review(db, TenantContext.system(tenant_id), invoice, agent="finance",
                                        payment_terms_days=days, summary="Invoice")


def test_the_review_shows_the_lines_and_totals_and_locks_them(db, client):
    tenant = make_tenant(db)
    invoice = draft(db, tenant.id, line(quantity="2", unit_price="12.345"))
    review = _review(db, tenant.id, invoice)
    assert review.proposal == {
        "currency": "EUR", "seller": invoice.seller, "buyer": invoice.buyer,
        "lines": [{"description": "Growth, monthly fee", "quantity": "2", "unit_price": "12.345", "tax_rate": "19.00",
                   "net_amount": "24.69"}],
        "line_total": "24.69", "tax_total": "4.69", "total_with_tax": "29.38", "amount_due": "29.38",
        "tax_breakdown": [{"rate": "19.00", "taxable_amount": "24.69", "tax_amount": "4.69"}],
        "memo": "Thank you.", "payment_terms_days": 14}
    url = f"/api/v1/reviews/invoice/{invoice.id}/decision"
    reviewer = tenant.headers(Role.reviewer)
    for locked in ({"total_with_tax": "1.00"}, {"lines": []}, {"tax_breakdown": []}, {"currency": "USD"}):
        body = _problem(client.post(url, json={"decision": "edit", "edited_output": locked}, headers=reviewer), 422)
        assert "cannot be edited" in body["detail"]
    db.refresh(invoice)
    assert (invoice.status, invoice.number) == ("draft", None)


def test_approving_with_an_edited_memo_and_terms_issues_the_invoice(db, client):
    tenant = make_tenant(db)
    invoice = draft(db, tenant.id)
    _review(db, tenant.id, invoice)
    response = client.post(f"/api/v1/reviews/invoice/{invoice.id}/decision", headers=tenant.headers(Role.reviewer),
                           json={"decision": "edit", "edited_output": {"memo": "Danke!", "payment_terms_days": 7}})
    assert response.status_code == 200, response.text
    db.refresh(invoice)
    assert (invoice.status, invoice.memo, invoice.due_date - invoice.issue_date) == ("issued", "Danke!",
                                                                                     timedelta(days=7))
    assert invoice.number.endswith("00001")
    body = client.get(f"{INVOICES}/{invoice.id}", headers=tenant.headers(Role.viewer)).json()
    assert (body["status"], body["memo"]) == ("issued", "Danke!")


def test_rejecting_the_review_cancels_the_draft(db, client):
    tenant = make_tenant(db)
    invoice = draft(db, tenant.id)
    _review(db, tenant.id, invoice)
    response = client.post(f"/api/v1/reviews/invoice/{invoice.id}/decision", headers=tenant.headers(Role.reviewer),
                           json={"decision": "reject", "comment": "wrong client"})
    assert response.status_code == 200, response.text
    db.refresh(invoice)
    assert (invoice.status, invoice.number) == ("cancelled", None)
    assert _actions(db, invoice.id)[-2:] == ["invoice.cancel", "review.reject"]


def test_bad_finance_settings_are_refused_on_patch_naming_the_field(db, client):
    tenant = make_tenant(db)
    admin = tenant.headers(Role.admin)
    cases = [({"tax_rate": "120"}, "settings.finance.tax_rate"), ({"tax_rate": 7.7}, "settings.finance.tax_rate"),
             ({"invoice_prefix": "INV {year}"}, "settings.finance.invoice_prefix"),
             ({"payment_terms_days": -1}, "settings.finance.payment_terms_days"),
             ({"seller": {"name": "A", "iban": "x"}}, "settings.finance.seller.iban"),
             ({"invoice_prefix": "X-", "credit_note_prefix": "X-"}, "settings.finance")]
    for section, field in cases:
        body = _problem(client.patch("/api/v1/tenant", json={"settings": {"finance": section}}, headers=admin), 422)
        assert field in [error["field"] for error in body["errors"]], body
    good = {"seller": {"name": "Acme GmbH", "vat_id": "DE1"}, "tax_rate": "7.50", "invoice_prefix": "R-{year}-"}
    response = client.patch("/api/v1/tenant", json={"settings": {"finance": good}}, headers=admin)
    assert response.status_code == 200, response.text
