"""How the LLM layer plugs into the run engine (listed in app.installed), which imports nothing of it:
a run of an agent that calls models is refused at the door while the tenant's model settings cannot
work (422) or its monthly budget is spent (402), and a run's detail lists its model calls."""

from sqlalchemy.orm import Session

from app.agents.base import Agent
from app.core.context import TenantContext
from app.llm import service
from app.llm.budgets import ensure_can_enqueue
from app.runs.hooks import register_admission_check, register_model_call_reader


def models_usable(session: Session, ctx: TenantContext, agent: Agent) -> None:
    if agent.uses_models:
        ensure_can_enqueue(session, ctx)


register_admission_check(models_usable)
register_model_call_reader(service.run_model_calls)
