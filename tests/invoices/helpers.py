"""Builders for the finance records: a won deal (its lead in `proposal`), draft invoices from plain lines."""

import uuid
from decimal import Decimal

from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.invoices import service as invoices
from app.invoices.schemas import LineIn
from app.models import Deal, Invoice, Lead
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
