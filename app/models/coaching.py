"""Coaching: clients' daily check-ins, their plans (every change a new version), the job cards the
coaching agent writes for the coach, and the plan changes it proposes for a reviewer."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin

_SCALES = ("sleep_quality", "stress", "mood", "soreness", "energy")


class CheckIn(IdMixin, TenantMixin, TimestampMixin, Base):
    """A client's check-in for one of their local days (one per day: a second one for the day updates it).
    Ranges are checked by the API and again by the database."""

    __tablename__ = "check_ins"
    __table_args__ = (
        UniqueConstraint("client_id", "day", name="uq_check_ins_client_day"),
        Index("ix_check_ins_client_day", "client_id", text("day DESC")),
        *(CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"{name}_1_to_5") for name in _SCALES),
        CheckConstraint("weight_kg > 0 AND weight_kg < 500", name="weight_kg_range"),
        CheckConstraint("sleep_hours >= 0 AND sleep_hours <= 24", name="sleep_hours_range"),
        CheckConstraint("training_adherence_pct BETWEEN 0 AND 100", name="training_adherence_range"),
        CheckConstraint("nutrition_adherence_pct BETWEEN 0 AND 100", name="nutrition_adherence_range"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    sleep_hours: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    sleep_quality: Mapped[int | None] = mapped_column(Integer)
    stress: Mapped[int | None] = mapped_column(Integer)
    mood: Mapped[int | None] = mapped_column(Integer)
    soreness: Mapped[int | None] = mapped_column(Integer)
    energy: Mapped[int | None] = mapped_column(Integer)
    training_adherence_pct: Mapped[int | None] = mapped_column(Integer)
    nutrition_adherence_pct: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)


class Plan(IdMixin, TenantMixin, TimestampMixin, Base):
    """A client's plan; what it says is its current version (`current_version`, the last approved one)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    current_version: Mapped[int] = mapped_column(Integer, default=1)


class PlanVersion(IdMixin, TenantMixin, Base):
    """One version of a plan: the typed plan (app.coaching.schemas.PlanContent) and where it came from."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_versions_version"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(16))  # initial | manual | review
    change_id: Mapped[uuid.UUID | None]  # the approved plan change it applies
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PlanChange(IdMixin, TenantMixin, TimestampMixin, Base):
    """A plan change the coaching agent proposes against one version: a typed before/after diff, applied as
    a new version only when a reviewer approves it and only if the plan is still at `base_version`.
    Status: proposed → applied | rejected | stale | cancelled."""

    __tablename__ = "plan_changes"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    base_version: Mapped[int] = mapped_column(Integer)
    changes: Mapped[list[Any]]  # [{field, before, after, why}]
    proposed: Mapped[dict[str, Any]]  # the whole plan as it would be
    rationale: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    applied_version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))


class CoachingCard(IdMixin, TenantMixin, TimestampMixin, Base):
    """A job card for the coach: what was seen (naming the check-ins behind it) and what to do.
    Status: open → done | dismissed."""

    __tablename__ = "coaching_cards"
    __table_args__ = (Index("ix_coaching_cards_page", "tenant_id", text("created_at DESC"), text("id DESC")),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    week: Mapped[str] = mapped_column(String(8))  # ISO week of the review, 2026-W48
    kind: Mapped[str] = mapped_column(String(32))  # missed_check_ins | low_adherence | readiness | deload | …
    severity: Mapped[str] = mapped_column(String(8))  # info | warning | critical
    seen: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # the check-in ids (and days) behind it
    status: Mapped[str] = mapped_column(String(12), default="open")
