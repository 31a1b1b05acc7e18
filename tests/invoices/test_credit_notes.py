"""Credit notes: the only correction of an issued invoice, by lines or by a net amount, never more than is left
(per line, per tax rate, in all), numbered in their own series, Idempotency-Key, roles, tenancy."""

from decimal import Decimal

from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.invoices import en16931
from app.invoices import service as invoices
from app.models import CreditNote, Invoice
from tests.builders import make_tenant, rebind
from tests.invoices.helpers import credit_note_record, draft, issued_record, line

INVOICES = "/api/v1/invoices"
CREDIT_NOTES = "/api/v1/credit-notes"


def _issued(db, tenant, *lines) -> Invoice:
    return invoices.issue(db, TenantContext.system(tenant.id), draft(db, tenant.id, *lines).id)


def _two_rate_invoice(db, tenant) -> Invoice:
    # 3 × 100.00 at 19 % and 1 × 50.00 at 7 %: 300.00 + 57.00, 50.00 + 3.50 = 410.50
    return _issued(db, tenant, line(description="Seats", quantity="3", unit_price="100"),
                   line(description="Workshop", quantity="1", unit_price="50", tax_rate="7"))


def _credit(client, tenant, invoice, body, role=Role.operator, **headers):
    return client.post(f"{INVOICES}/{invoice.id}/credit-notes", json=body,
                       headers={**tenant.headers(role), **headers})


def test_a_credit_note_by_lines_credits_them_at_their_price_and_rate(db, client):
    tenant = make_tenant(db)
    invoice = _two_rate_invoice(db, tenant)

    response = _credit(client, tenant, invoice, {"reason": "One seat unused", "lines": [{"position": 1,
                                                                                          "quantity": "1"}]})

    assert response.status_code == 201, response.text
    note = response.json()
    year = invoice.issue_date.year
    assert (note["number"], note["invoice_number"], note["currency"]) == (f"CN-{year}-00001", invoice.number, "EUR")
    assert note["lines"] == [{"position": 1, "description": "Credit: Seats", "quantity": "1", "unit_price": "100.00",
                              "tax_rate": "19.00", "net_amount": "100.00"}]
    assert (note["line_total"], note["tax_total"], note["total_with_tax"]) == ("100.00", "19.00", "119.00")
    assert note["tax_breakdown"] == [{"rate": "19.00", "taxable_amount": "100.00", "tax_amount": "19.00"}]
    assert (note["created_by_type"], note["created_by_id"]) == ("user", str(tenant.users[Role.operator]))

    detail = client.get(f"{INVOICES}/{invoice.id}", headers=tenant.headers(Role.viewer)).json()
    assert (detail["credited_total"], detail["left_to_credit"]) == ("119.00", "291.50")
    assert [(n["number"], n["total_with_tax"]) for n in detail["credit_notes"]] == [(f"CN-{year}-00001", "119.00")]
    # the invoice itself is as issued: only the sum of its credit notes moved
    assert (detail["total_with_tax"], detail["amount_due"], detail["status"]) == ("410.50", "410.50", "issued")

    rest = _credit(client, tenant, invoice, {"reason": "The rest", "lines": [{"position": 1}, {"position": 2}]})
    assert rest.status_code == 201, rest.text
    assert [(x["position"], x["quantity"]) for x in rest.json()["lines"]] == [(1, "2"), (2, "1")]
    assert rest.json()["number"] == f"CN-{year}-00002" and rest.json()["total_with_tax"] == "291.50"
    detail = client.get(f"{INVOICES}/{invoice.id}", headers=tenant.headers(Role.viewer)).json()
    assert (detail["credited_total"], detail["left_to_credit"]) == ("410.50", "0.00")


def test_no_line_is_credited_past_its_quantity(db, client):
    tenant = make_tenant(db)
    invoice = _two_rate_invoice(db, tenant)
    assert _credit(client, tenant, invoice, {"reason": "a", "lines": [{"position": 1, "quantity": "2.5"}]}
                   ).status_code == 201

    too_much = _credit(client, tenant, invoice, {"reason": "b", "lines": [{"position": 1, "quantity": "1"}]})
    assert too_much.status_code == 422 and "only 0.5 of line 1 is left" in too_much.json()["detail"]
    unknown = _credit(client, tenant, invoice, {"reason": "c", "lines": [{"position": 3}]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "lines.0.position"
    assert _credit(client, tenant, invoice, {"reason": "d", "lines": [{"position": 1}]}).json()["lines"][0][
        "quantity"] == "0.5"
    done = _credit(client, tenant, invoice, {"reason": "e", "lines": [{"position": 1}]})
    assert done.status_code == 422 and "credited in full" in done.json()["detail"]


def test_a_credit_by_amount_is_net_at_one_of_the_invoices_rates_and_never_more_than_is_left(db, client):
    tenant = make_tenant(db)
    invoice = _two_rate_invoice(db, tenant)

    ambiguous = _credit(client, tenant, invoice, {"reason": "Goodwill", "amount": "10.00"})
    assert ambiguous.status_code == 422 and "7.00, 19.00" in ambiguous.json()["detail"]
    other_rate = _credit(client, tenant, invoice, {"reason": "Goodwill", "amount": "10.00", "tax_rate": "16"})
    assert other_rate.status_code == 422 and "no line at 16.00" in other_rate.json()["detail"]
    past_rate = _credit(client, tenant, invoice, {"reason": "Goodwill", "amount": "50.01", "tax_rate": "7"})
    assert past_rate.status_code == 422 and "only 50.00 is left to credit at that rate" in past_rate.json()["detail"]
    too_fine = _credit(client, tenant, invoice, {"reason": "Goodwill", "amount": "1.001", "tax_rate": "7"})
    assert too_fine.status_code == 422 and too_fine.json()["errors"][0]["field"] == "amount"

    goodwill = _credit(client, tenant, invoice, {"reason": "Goodwill", "amount": "10.05", "tax_rate": "7"})
    assert goodwill.status_code == 201, goodwill.text
    note = goodwill.json()
    assert note["lines"] == [{"position": None, "description": "Goodwill", "quantity": "1", "unit_price": "10.05",
                              "tax_rate": "7.00", "net_amount": "10.05"}]
    assert (note["tax_total"], note["total_with_tax"]) == ("0.70", "10.75")

    single = _issued(db, tenant, line(quantity="1", unit_price="100"))
    assert _credit(client, tenant, single, {"reason": "Discount", "amount": "20"}).json()["total_with_tax"] == "23.80"
    over = _credit(client, tenant, single, {"reason": "Again", "amount": "80.01"})
    assert over.status_code == 422
    assert db.scalar(select(func.count()).select_from(CreditNote).where(CreditNote.invoice_id == single.id)) == 1


def test_the_total_cap_holds_where_per_rate_rounding_would_pass_it(db, client):
    """Credits rounded one by one can add up to more tax than the invoice's one rounding: the total with tax
    left is the last word."""
    tenant = make_tenant(db)
    invoice = _issued(db, tenant, line(quantity="1", unit_price="0.03", tax_rate="50"))  # 0.03 + 0.02 = 0.05
    for _ in range(2):
        assert _credit(client, tenant, invoice, {"reason": "x", "amount": "0.01"}).json()["total_with_tax"] == "0.02"
    last = _credit(client, tenant, invoice, {"reason": "x", "amount": "0.01"})
    assert last.status_code == 422 and "only 0.01 is left to credit" in last.json()["detail"]
    db.refresh(invoice)
    assert invoice.credited_total <= invoice.total_with_tax


def test_every_credit_note_passes_the_rules(db, client):
    tenant = make_tenant(db)
    invoice = _two_rate_invoice(db, tenant)
    _credit(client, tenant, invoice, {"reason": "a", "lines": [{"position": 1, "quantity": "0.3333"},
                                                               {"position": 2, "quantity": "0.5"}]})
    note = db.scalars(select(CreditNote).where(CreditNote.invoice_id == invoice.id)).one()

    class Lines:
        def __init__(self, row):
            self.quantity, self.unit_price = Decimal(row["quantity"]), Decimal(row["unit_price"])
            self.tax_rate, self.net_amount = Decimal(row["tax_rate"]), Decimal(row["net_amount"])

    note.paid_amount, note.rounding_amount, note.amount_due = Decimal(0), Decimal(0), note.total_with_tax
    assert en16931.check(note, [Lines(row) for row in note.lines]) == []


def test_only_issued_invoices_are_credited_and_only_by_operators(db, client):
    tenant = make_tenant(db)
    waiting = draft(db, tenant.id)
    response = _credit(client, tenant, waiting, {"reason": "x", "amount": "1"})
    assert response.status_code == 409 and response.json()["invoice_status"] == "draft"
    invoice = _issued(db, tenant)
    for role in (Role.viewer, Role.reviewer):
        assert _credit(client, tenant, invoice, {"reason": "x", "amount": "1"}, role=role).status_code == 403
    bad = _credit(client, tenant, invoice, {"reason": "x", "amount": "1", "lines": [{"position": 1}]})
    assert bad.status_code == 422
    assert _credit(client, tenant, invoice, {"reason": "x", "amount": "1"}, role=Role.admin).status_code == 201


def test_the_same_idempotency_key_gives_the_same_credit_note_once(db, client):
    tenant = make_tenant(db)
    invoice = _issued(db, tenant)
    body = {"reason": "Late delivery", "amount": "100"}
    first = _credit(client, tenant, invoice, body, **{"Idempotency-Key": "credit-1"})
    again = _credit(client, tenant, invoice, body, **{"Idempotency-Key": "credit-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = _credit(client, tenant, invoice, {**body, "amount": "50"}, **{"Idempotency-Key": "credit-1"})
    assert other.status_code == 422
    assert db.scalar(select(func.count()).select_from(CreditNote).where(CreditNote.invoice_id == invoice.id)) == 1


def test_credit_notes_are_read_and_listed_and_another_tenants_are_404(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs_invoice = issued_record(db, other.id)
    their_note = credit_note_record(db, other.id, theirs_invoice)
    rebind(db, tenant.id)
    invoice = _issued(db, tenant)
    one = _credit(client, tenant, invoice, {"reason": "a", "amount": "1"}).json()
    two = _credit(client, tenant, _issued(db, tenant), {"reason": "b", "amount": "2"}).json()
    viewer = tenant.headers(Role.viewer)

    assert client.get(f"{CREDIT_NOTES}/{one['id']}", headers=viewer).json() == one
    listed = client.get(CREDIT_NOTES, headers=viewer).json()
    assert sorted(n["id"] for n in listed["items"]) == sorted([one["id"], two["id"]])
    filtered = client.get(CREDIT_NOTES, params={"invoice_id": str(invoice.id)}, headers=viewer).json()
    assert [n["id"] for n in filtered["items"]] == [one["id"]]

    owner = tenant.headers(Role.owner)
    assert client.get(f"{CREDIT_NOTES}/{their_note.id}", headers=owner).status_code == 404
    assert client.get(CREDIT_NOTES, params={"invoice_id": str(theirs_invoice.id)}, headers=owner).json()["items"] == []
    assert _credit(client, tenant, theirs_invoice, {"reason": "x", "amount": "1"}, role=Role.owner).status_code == 404
