"""Plain builders for the sales records: leads, price book items, deals, suppressions. The session must be
bound to the tenant (tests.builders.make_tenant does that)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import Deal, Lead, PriceBookItem, Suppression


def add_lead(session: Session, tenant_id: uuid.UUID, *, email: str | None = None, status: str = "new",
             **fields) -> Lead:
    lead = Lead(tenant_id=tenant_id, email=email or f"lead-{uuid.uuid4().hex[:10]}@example.com",
                name=fields.pop("name", "Ada Lovelace"), status=status, **fields)
    session.add(lead)
    session.flush()
    return lead


def add_item(session: Session, tenant_id: uuid.UUID, *, code: str | None = None, list_price: str = "1250.00",
             currency: str = "EUR", active: bool = True, **fields) -> PriceBookItem:
    item = PriceBookItem(tenant_id=tenant_id, code=code or f"pkg-{uuid.uuid4().hex[:8]}",
                         name=fields.pop("name", "Growth package"), list_price=Decimal(list_price),
                         currency=currency, billing_period=fields.pop("billing_period", "monthly"), active=active,
                         **fields)
    session.add(item)
    session.flush()
    return item


def add_deal(session: Session, tenant_id: uuid.UUID, lead: Lead, item: PriceBookItem, *,
             stage: str = "proposal") -> Deal:
    deal = Deal(tenant_id=tenant_id, lead_id=lead.id, package_id=item.id, package_code=item.code,
                list_price=item.list_price, currency=item.currency, amount=item.list_price, stage=stage)
    session.add(deal)
    session.flush()
    return deal


def add_suppression(session: Session, tenant_id: uuid.UUID, kind: str, value: str) -> Suppression:
    suppression = Suppression(tenant_id=tenant_id, kind=kind, value=value, created_by_type="system")
    session.add(suppression)
    session.flush()
    return suppression


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements sent on the test's connection (the requests' too) inside the block."""
    connection = session.connection()
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)
