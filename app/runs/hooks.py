"""Where other packages plug into the run engine, so that it imports none of them.

- Admission checks run when a run is accepted, after its input was validated and before anything is
  written: one raises an AppError to refuse the run (app.llm refuses runs of agents that call models
  while the tenant's model budget is spent, say).
- The model-call reader lists a run's model calls for GET /api/v1/runs/{id} (registered by app.llm).

Both are registered when their package's module listed in app.installed is imported; the agent registry
imports those modules on first use, and every accessor here makes sure it has.
"""

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.agents.base import Agent
from app.agents.registry import load_installed
from app.core.context import TenantContext
from app.runs.schemas import ModelCall

AdmissionCheck = Callable[[Session, TenantContext, Agent], None]
ModelCallReader = Callable[[Session, TenantContext, uuid.UUID], list[ModelCall]]

_admission_checks: list[AdmissionCheck] = []
_model_call_reader: ModelCallReader | None = None


def register_admission_check(check: AdmissionCheck) -> AdmissionCheck:
    if check not in _admission_checks:
        _admission_checks.append(check)
    return check


def check_admission(session: Session, ctx: TenantContext, agent: Agent) -> None:
    load_installed()
    for check in _admission_checks:
        check(session, ctx, agent)


def register_model_call_reader(reader: ModelCallReader) -> ModelCallReader:
    global _model_call_reader
    _model_call_reader = reader
    return reader


def model_calls(session: Session, ctx: TenantContext, run_id: uuid.UUID) -> list[ModelCall]:
    """The run's model calls, oldest first; none when no package records them."""
    load_installed()
    return _model_call_reader(session, ctx, run_id) if _model_call_reader is not None else []
