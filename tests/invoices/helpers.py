"""Builders for the finance records: a won deal (its lead in `proposal`), draft invoices from plain lines."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.invoices import service as invoices
from app.invoices.schemas import LineIn
from app.models import CreditNote, Deal, Invoice, Lead
from tests.records import add_deal, add_item, add_lead

SELLER = {"name": "Agentline Demo GmbH", "vat_id": "DE123456789"}
BUYER = {"name": "Analytical Engines", "contact": "Ada Lovelace"}


def line(description: str = "Growth, monthly fee", quantity: str = "1", unit_price: str = "1250.00",
         tax_rate: str = "19") -> LineIn:
    return LineIn(description=description, quantity=quantity, unit_price=unit_price, tax_rate=tax_rate)


def won_deal(session: Session, tenant_id: uuid.UUID, *, amount: str = "1250.00", currency: str = "EUR",
             lead_status: str = "proposal", pipeline_id: uuid.UUID | None = None, **lead_fields) -> tuple[Lead, Deal]:
    lead = add_lead(session, tenant_id, status=lead_status, **{"company": "Analytical Engines", **lead_fields})
    item = add_item(session, tenant_id, code=f"growth-{uuid.uuid4().hex[:6]}", name="Growth", list_price=amount,
                    currency=currency, description="For companies of 50 to 250 employees. Onboarding workshop.")
    deal = add_deal(session, tenant_id, lead, item, stage="won")
    deal.amount, deal.pipeline_id = Decimal(amount), pipeline_id
    session.flush()
    return lead, deal


def draft(session: Session, tenant_id: uuid.UUID, *lines: LineIn, currency: str = "EUR",
          deal: Deal | None = None, pipeline_id: uuid.UUID | None = None) -> Invoice:
    return invoices.create_draft(session, TenantContext.system(tenant_id), currency=currency,
                                 lines=list(lines) or [line()], seller=SELLER, buyer=BUYER, memo="Thank you.",
                                 deal_id=deal.id if deal else None, pipeline_id=pipeline_id)


def issued_record(session: Session, tenant_id: uuid.UUID, number: str = "OTHER-1") -> Invoice:
    """An issued invoice as a row, numbered by hand: for tests about something else than issuing (tenancy), so
    they take nothing from the tenant's number series."""
    invoice = draft(session, tenant_id)
    invoice.status, invoice.number, invoice.issue_date = "issued", number, date.today()
    invoice.issued_at = datetime.now(UTC)
    session.flush()
    return invoice


def credit_note_record(session: Session, tenant_id: uuid.UUID, invoice: Invoice, number: str = "OTHER-CN-1",
                       amount: str = "1.00") -> CreditNote:
    note = CreditNote(tenant_id=tenant_id, invoice_id=invoice.id, number=number, reason="theirs", currency="EUR",
                      line_total=Decimal(amount), tax_total=Decimal(0), total_with_tax=Decimal(amount),
                      tax_breakdown=[], lines=[], issued_at=datetime.now(UTC), created_by_type="system")
    session.add(note)
    session.flush()
    return note


def delete_tenants(owner_engine, tenant_ids: list[uuid.UUID]) -> None:
    """Committed tenants and everything they own, number series included, as the owner role."""
    with owner_engine.begin() as connection:
        connection.execute(text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": tenant_ids})
