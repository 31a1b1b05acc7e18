"""Builders for coaching tests: clients, plans, runs, plan changes. The session must be bound to the tenant
(tests.builders.make_tenant does that)."""

import copy
import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.coaching import service
from app.coaching.schemas import PlanContent, PlanPut
from app.core.context import TenantContext
from app.models import AgentRun, Client, PlanChange

PLAN: dict[str, Any] = {
    "training_days_per_week": 3,
    "sessions": [{"day": "mon", "name": "Lower", "duration_minutes": 60, "sets": 16},
                 {"day": "wed", "name": "Upper", "duration_minutes": 60, "sets": 16},
                 {"day": "fri", "name": "Full body", "duration_minutes": 75, "sets": 18}],
    "cardio_minutes_per_week": 90,
    "nutrition": {"calories_kcal": 2400, "protein_g": 160, "carbs_g": 260, "fat_g": 80},
    "check_in_days": ["mon", "thu"],
}


def plan(**overrides: Any) -> dict[str, Any]:
    """A valid plan (PLAN) with top-level fields replaced."""
    return {**copy.deepcopy(PLAN), **overrides}


def deload() -> dict[str, Any]:
    """PLAN with a lighter week: fewer sets, less cardio."""
    lighter = plan(cardio_minutes_per_week=60)
    for session in lighter["sessions"]:
        session["sets"] = session["sets"] // 2
    return lighter


DELOAD_CHANGES = [{"field": "sessions", "before": 50, "after": 25, "why": "readiness red for 5 days"},
                  {"field": "cardio_minutes_per_week", "before": 90, "after": 60, "why": "recover"}]


def add_client(session: Session, tenant_id: uuid.UUID, *, timezone: str = "UTC", name: str = "Grace Hopper") -> Client:
    client = Client(tenant_id=tenant_id, name=name, timezone=timezone, status="active")
    session.add(client)
    session.flush()
    return client


def add_plan(session: Session, tenant_id: uuid.UUID, client_id: uuid.UUID, content: dict[str, Any] | None = None):
    """The client's plan at version 1, written as an operator's PUT writes it."""
    return service.put_plan(session, TenantContext.system(tenant_id), client_id,
                            PlanPut(content=PlanContent.model_validate(content or PLAN)))


def add_run(session: Session, tenant_id: uuid.UUID, agent: str = "coaching") -> AgentRun:
    run = AgentRun(tenant_id=tenant_id, agent=agent, status="running", input={}, attempt=1, max_attempts=3,
                   requested_by_type="system")
    session.add(run)
    session.flush()
    return run


def propose(session: Session, tenant_id: uuid.UUID, client_id: uuid.UUID, *, base_version: int = 1,
            proposed: dict[str, Any] | None = None, run_id: uuid.UUID | None = None) -> PlanChange:
    return service.propose_plan_change(
        session, TenantContext.system(tenant_id), client_id=client_id, base_version=base_version,
        changes=DELOAD_CHANGES, proposed=PlanContent.model_validate(proposed or deload()),
        rationale="Readiness has been red for five days: deload.", run_id=run_id)
