"""The coaching agent and its schedule on committed records (the executor and the schedule commit, as in
production): a tenant, clients with a plan and their check-ins. Tenants are deleted afterwards, so the
schedule's cross-tenant scan of one test never finds another test's clients."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from app.coaching import service as coaching
from app.coaching.schemas import PlanContent, PlanPut
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import session_scope
from app.models import AgentRun, CheckIn, Client, RunStep, Tenant
from app.runs import executor
from app.runs import service as runs
from tests.builders import TenantFixture, committed_tenant
from tests.coaching_agent.helpers import PLAN
from tests.invoices.helpers import delete_tenants


@dataclass
class Coaching:
    tenant: TenantFixture
    made: list[uuid.UUID] = field(default_factory=list)

    @property
    def ctx(self) -> TenantContext:
        return TenantContext.system(self.tenant.id)

    def add_client(self, *, timezone: str = "Europe/Berlin", name: str = "Ada Lovelace", status: str = "active",
                   start_date: date | None = date(2026, 1, 5), plan: dict[str, Any] | None = PLAN) -> uuid.UUID:
        with session_scope(self.tenant.id) as session:
            client = Client(tenant_id=self.tenant.id, name=name, timezone=timezone, status=status,
                            start_date=start_date, goal="Get stronger without getting hurt")
            session.add(client)
            session.flush()
            if plan is not None:
                coaching.put_plan(session, self.ctx, client.id, PlanPut(content=PlanContent.model_validate(plan)))
            return client.id

    def add_check_ins(self, client_id: uuid.UUID, history: dict[date, dict[str, Any]]) -> dict[date, uuid.UUID]:
        with session_scope(self.tenant.id) as session:
            rows = {day: CheckIn(id=uuid.uuid4(), tenant_id=self.tenant.id, client_id=client_id, day=day, **values)
                    for day, values in history.items()}
            session.add_all(rows.values())
            return {day: row.id for day, row in rows.items()}

    def set_settings(self, **settings: Any) -> None:
        with session_scope(self.tenant.id) as session:
            tenant = session.get_one(Tenant, self.tenant.id)
            tenant.settings = {**tenant.settings, **settings}

    def start(self, client_id: uuid.UUID, week: str | None = None) -> uuid.UUID:
        payload = {"client_id": str(client_id), **({"week": week} if week else {})}
        with session_scope(self.tenant.id) as session:
            return runs.create_run(session, self.ctx, "coaching", payload).id

    def execute(self, run_id: uuid.UUID) -> AgentRun:
        executor.execute(run_id, self.tenant.id, worker="test@local")
        return self.run(run_id)

    def review(self, client_id: uuid.UUID, week: str | None = None) -> AgentRun:
        return self.execute(self.start(client_id, week))

    def run(self, run_id: uuid.UUID) -> AgentRun:
        with session_scope(self.tenant.id) as session:
            return session.get_one(AgentRun, run_id)

    def steps(self, run_id: uuid.UUID) -> list[str]:
        with session_scope(self.tenant.id) as session:
            return list(session.scalars(select(RunStep.name).where(RunStep.run_id == run_id)
                                        .order_by(RunStep.finished_at)))

    def rows(self, model: type, **where: Any) -> list[Any]:
        with session_scope(self.tenant.id) as session:
            return list(session.scalars(select(model).filter_by(**where)))

    def another_tenant(self, factory) -> "Coaching":
        other = Coaching(committed_tenant(factory))
        self.made.append(other.tenant.id)
        return other


@pytest.fixture
def world(committed_db, owner_engine):
    made = Coaching(committed_tenant(committed_db))
    yield made
    delete_tenants(owner_engine, [made.tenant.id, *made.made])


@pytest.fixture
def llm_env(monkeypatch):
    """Deployment settings through the environment, as in production (the executor runs in this process)."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), value)
        get_settings.cache_clear()

    apply(LLM_TIMEOUT_SECONDS="2", LLM_MAX_RETRIES="0", OPENAI_API_KEY="sk-test-0000000000000000000000")
    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
