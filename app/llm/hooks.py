"""How the LLM layer plugs into the run engine (listed in app.installed), which imports nothing of it:
a run of an agent that calls models is refused at the door while the tenant's model settings cannot
work (422) or its monthly budget is spent (402), and a run's detail lists its model calls."""

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.agents.base import Agent
from app.core.context import TenantContext
from app.llm import service
from app.llm.budgets import ensure_can_enqueue
from app.runs.hooks import register_admission_check, register_model_call_reader


def models_usable(session: Session, ctx: TenantContext, agent: Agent) -> None:
    if agent.uses_models:
        ensure_can_enqueue(session, ctx)


def run_model_calls(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> list[dict[str, Any]]:
    return [call.model_dump(mode="json") for call in service.run_model_calls(session, ctx, run_id)]


register_admission_check(models_usable)
register_model_call_reader(run_model_calls)
