"""Reviews: opening one for an agent's output, the inbox, decisions, and deadlines.

A decision is one transaction: the review's status, its decision record, the entity's own change (the
review kind's `apply` or `discard`, which enqueue their side effects through the outbox), the run's
final status, and the pipeline's advance signal. Side effects are published after commit, so they happen
once, and only for a decision that committed."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.models import Review, Tenant

DEFAULT_DEADLINE_HOURS = 72
DEFAULT_REMINDER_BEFORE_HOURS = 24


def review_settings(session: Session, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's `reviews` settings: `deadline_hours` (a number, or a map entity type → hours),
    `reminder_before_hours`, `on_expiry` (reject | escalate), `four_eyes` (bool)."""
    settings = session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id)) or {}
    return settings.get("reviews") or {}


def deadline_hours(settings: dict[str, Any], entity_type: str) -> float:
    hours = settings.get("deadline_hours", DEFAULT_DEADLINE_HOURS)
    if isinstance(hours, dict):
        hours = hours.get(entity_type, hours.get("default", DEFAULT_DEADLINE_HOURS))
    return float(hours)


def digest(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of `content`: what exactly was approved."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def open_review(session: Session, ctx: TenantContext, *, entity_type: str, entity_id: uuid.UUID, agent: str,
                proposal: dict[str, Any], citations: list[Any] | None = None, summary: str = "",
                run_id: uuid.UUID | None = None, pipeline_id: uuid.UUID | None = None,
                requested_by_type: str = "system", requested_by_id: uuid.UUID | None = None) -> Review:
    """Open the review of one entity (idempotent: the entity's existing review is returned). Called by an
    agent's step, in the step's transaction, so the review and the step's record commit together."""
    existing = session.scalar(select(Review).where(
        Review.tenant_id == ctx.tenant_id, Review.entity_type == entity_type, Review.entity_id == entity_id))
    if existing is not None:
        return existing
    hours = deadline_hours(review_settings(session, ctx.tenant_id), entity_type)
    review = Review(tenant_id=ctx.tenant_id, entity_type=entity_type, entity_id=entity_id, agent=agent,
                    run_id=run_id, pipeline_id=pipeline_id, status="pending", proposal=proposal,
                    citations=citations or [], summary=summary[:500], requested_by_type=requested_by_type,
                    requested_by_id=requested_by_id, deadline_at=datetime.now(UTC) + timedelta(hours=hours))
    session.add(review)
    session.flush()
    return review
