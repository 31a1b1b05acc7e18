"""The sales records: leads, the suppression list, the price book, deals and the email log.

Money columns are NUMERIC(18, 4): wide enough for any ISO 4217 minor unit (up to 4 decimals); the number
of decimals a value may carry is checked in code against its currency (app.core.money).
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin

MONEY = Numeric(18, 4)


class Lead(IdMixin, TenantMixin, TimestampMixin, Base):
    """A prospect. `status`: new → qualified | disqualified → contacted → proposal → won | lost
    (app.leads.state). `email` is stored lower-cased and is unique per tenant."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        Index("ix_leads_page", "tenant_id", text("created_at DESC"), text("id DESC")),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(120))
    company_size: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str | None] = mapped_column(String(64))
    website: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new")
    # Written by the SDR agent's qualification (code computes both from the per-criterion judgements).
    score: Mapped[int | None] = mapped_column(Integer)
    bucket: Mapped[str | None] = mapped_column(String(16))
    qualification: Mapped[dict[str, Any] | None]


class Suppression(IdMixin, TenantMixin, TimestampMixin, Base):
    """An email address or a whole domain that nobody may contact. `value` is lower-cased."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value"),)

    kind: Mapped[str] = mapped_column(String(8))  # email | domain
    value: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]


class PriceBookItem(IdMixin, TenantMixin, TimestampMixin, Base):
    """A package the tenant sells. The sales agent's price always comes from here, in code."""

    __tablename__ = "price_book_items"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    list_price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    billing_period: Mapped[str] = mapped_column(String(16))  # one_time | monthly | quarterly | yearly
    active: Mapped[bool] = mapped_column(default=True)


class Deal(IdMixin, TenantMixin, TimestampMixin, Base):
    """A lead's deal: one per lead. `stage`: proposal → negotiation → won | lost (app.deals.state)."""

    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "lead_id"),
        Index("ix_deals_page", "tenant_id", text("created_at DESC"), text("id DESC")),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    package_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("price_book_items.id", ondelete="SET NULL"))
    package_code: Mapped[str] = mapped_column(String(64))
    list_price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    # What we currently propose (the list price until a negotiation concedes something).
    amount: Mapped[Decimal] = mapped_column(MONEY)
    stage: Mapped[str] = mapped_column(String(16), default="proposal")
    # The approved proposal: summary, scope, next steps (as the reviewer approved or edited it).
    proposal: Mapped[dict[str, Any] | None]
    pipeline_id: Mapped[uuid.UUID | None]
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))


class EmailLog(IdMixin, TenantMixin, TimestampMixin, Base):
    """Every email drafted or sent. `status`: draft → approved → sent | suppressed | failed (app.email.state).

    The Message-ID is fixed when the draft is made, so a send retried after a crash is the same email."""

    __tablename__ = "email_logs"
    __table_args__ = (
        UniqueConstraint("message_id"),
        Index("ix_email_logs_page", "tenant_id", text("created_at DESC"), text("id DESC")),
    )

    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    review_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reviews.id", ondelete="SET NULL"))
    pipeline_id: Mapped[uuid.UUID | None]
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    message_id: Mapped[str] = mapped_column(String(255))
    transport: Mapped[str | None] = mapped_column(String(16))  # smtp | file
    sent_at: Mapped[datetime | None]
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
