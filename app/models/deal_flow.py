"""After the proposal: the negotiation (policies and every round), contracts, invoices and credit notes
with their per-tenant number series, and the clients a won deal makes.

Money is NUMERIC(18, 4) (app.models.sales.MONEY), checked against its currency's minor unit in code.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin
from app.models.sales import MONEY

PERCENT = Numeric(5, 2)
QUANTITY = Numeric(18, 4)


class NegotiationPolicy(IdMixin, TenantMixin, TimestampMixin, Base):
    """The tenant's price policy, enforced in code whatever a model says. `package_code` '*' is the
    tenant's default; a package's own policy overrides it."""

    __tablename__ = "negotiation_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "package_code"),)

    package_code: Mapped[str] = mapped_column(String(64), default="*")
    floor_price: Mapped[Decimal | None] = mapped_column(MONEY)  # absolute, in the package's currency
    max_discount_pct: Mapped[Decimal] = mapped_column(PERCENT)
    approval_threshold_pct: Mapped[Decimal] = mapped_column(PERCENT)  # a discount past it waits for a reviewer
    max_rounds: Mapped[int] = mapped_column(Integer)
    allowed_concessions: Mapped[list[Any]] = mapped_column(default=list)  # longer_term, upfront_payment, smaller_scope


class NegotiationRound(IdMixin, TenantMixin, Base):
    """One offer in a deal's negotiation, the client's or ours (`negotiation_history`). Ours records what
    the model proposed, what code let through (clamped, and why) and the policy in force."""

    __tablename__ = "negotiation_history"
    __table_args__ = (
        UniqueConstraint("deal_id", "round", "side", name="uq_negotiation_history_round"),
        Index("ix_negotiation_history_deal", "deal_id", "round"),
    )

    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(8))  # client | agent
    kind: Mapped[str] = mapped_column(String(12))  # counter | accept | walk_away (client); offer (agent)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    # pending_review | sent | refused | escalated | superseded (agent); received (client)
    status: Mapped[str] = mapped_column(String(16))
    model_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    clamped: Mapped[bool] = mapped_column(default=False)
    clamp_reasons: Mapped[list[Any]] = mapped_column(default=list)
    reasoning: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[dict[str, Any] | None]
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    review_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reviews.id", ondelete="SET NULL"))
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Client(IdMixin, TenantMixin, TimestampMixin, Base):
    """A customer: made from a lead when its first invoice is issued, or created directly."""

    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("tenant_id", "lead_id"),
        Index("ix_clients_page", "tenant_id", text("created_at DESC"), text("id DESC")),
    )

    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    goal: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date | None] = mapped_column(Date)
    coach_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paused | ended


class Contract(IdMixin, TenantMixin, TimestampMixin, Base):
    """The contract summary of a won deal: the model writes the summary, code checks it against the deal."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("tenant_id", "deal_id"),)

    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    parties: Mapped[dict[str, Any]]
    package_code: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    term_months: Mapped[int] = mapped_column(Integer)
    payment_terms: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))


class Invoice(IdMixin, TenantMixin, TimestampMixin, Base):
    """An invoice. `status`: draft → issued (app.invoices.state); an issued invoice never changes: a
    correction is a credit note. `number` is given when it is issued, from the tenant's yearly series."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_invoices_page", "tenant_id", text("created_at DESC"), text("id DESC")),
    )

    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    contract_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contracts.id", ondelete="SET NULL"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    pipeline_id: Mapped[uuid.UUID | None]
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    number: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    seller: Mapped[dict[str, Any]]
    buyer: Mapped[dict[str, Any]]
    memo: Mapped[str] = mapped_column(Text, default="")
    # Totals computed in code (EN 16931 BT-106, 109, 110, 112, 113, 114, 115) and checked before issue.
    line_total: Mapped[Decimal] = mapped_column(MONEY)
    tax_total: Mapped[Decimal] = mapped_column(MONEY)
    total_with_tax: Mapped[Decimal] = mapped_column(MONEY)
    paid_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    rounding_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    amount_due: Mapped[Decimal] = mapped_column(MONEY)
    tax_breakdown: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[datetime | None]
    credited_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))


class InvoiceLine(IdMixin, TenantMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_position"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    tax_rate: Mapped[Decimal] = mapped_column(PERCENT)
    net_amount: Mapped[Decimal] = mapped_column(MONEY)


class CreditNote(IdMixin, TenantMixin, TimestampMixin, Base):
    """A correction of an issued invoice, by line or amount, with its own number series."""

    __tablename__ = "credit_notes"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    line_total: Mapped[Decimal] = mapped_column(MONEY)
    tax_total: Mapped[Decimal] = mapped_column(MONEY)
    total_with_tax: Mapped[Decimal] = mapped_column(MONEY)
    tax_breakdown: Mapped[list[Any]] = mapped_column(default=list)
    lines: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[datetime]
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]


class NumberSeries(Base):
    """The last number given in a tenant's yearly series (`invoice`, `credit_note`): locked in the issuing
    transaction, so numbers have no gap and no duplicate (a PostgreSQL sequence can leave gaps)."""

    __tablename__ = "number_series"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
