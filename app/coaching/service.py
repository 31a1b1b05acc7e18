"""Coaching records: check-ins, plans (every change a new version), coaching cards, and the plan changes
the coaching agent proposes, applied as a new version only when a reviewer approves them (the
`plan_change` review kind, registered here)."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.coaching.schemas import PlanContent
from app.core.context import TenantContext
from app.models import CheckIn, CoachingCard, Plan, PlanChange, PlanVersion

PLAN_CHANGE = "plan_change"


# --- the interface the coaching agent uses ----------------------------------------------------


def current_plan(session: Session, ctx: TenantContext, client_id: uuid.UUID) -> tuple[Plan, PlanVersion] | None:
    """The client's plan and its current version (the last approved one); None if the client has no plan.
    404 (NotFound) for a client that is not the tenant's."""
    raise NotImplementedError


def check_ins_between(session: Session, ctx: TenantContext, client_id: uuid.UUID, first_day: date,
                      last_day: date) -> list[CheckIn]:
    """The client's check-ins for the client-local days first_day..last_day (both included), oldest day
    first. 404 for a client that is not the tenant's."""
    raise NotImplementedError


def record_cards(session: Session, ctx: TenantContext, *, client_id: uuid.UUID, run_id: uuid.UUID | None,
                 week: str, cards: list[dict[str, Any]]) -> list[CoachingCard]:
    """Write the coaching cards of one review of a client (`week` 'YYYY-Www'). Each card is a dict of
    app.coaching.schemas.CardIn: {kind, severity info|warning|critical, seen, action, evidence}; an invalid
    one is a 422 and writes nothing. Idempotent per run: if `run_id` has recorded cards already (a replayed
    step), those are returned and nothing is written. Flushes, never commits."""
    raise NotImplementedError


def propose_plan_change(session: Session, ctx: TenantContext, *, client_id: uuid.UUID, base_version: int,
                        changes: list[dict[str, Any]], proposed: PlanContent, rationale: str,
                        run_id: uuid.UUID | None, pipeline_id: uuid.UUID | None = None,
                        agent: str = "coaching") -> PlanChange:
    """Record a plan change against the client's plan at `base_version` (changes: [{field, before, after,
    why}]; proposed: the whole plan as it would be) and open its `plan_change` review (entity = the change's
    id; proposal {client_id, base_version, changes, proposed, rationale}; client_id and base_version locked).
    Idempotent per run: the same run proposing again returns its change (and its review). 404 for a client
    not the tenant's; 409 if the client has no plan or the plan is no longer at `base_version`. Flushes,
    never commits."""
    raise NotImplementedError
