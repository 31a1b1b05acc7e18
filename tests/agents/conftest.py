"""The agents run through the real executor (claim, steps, model calls, outcome) on committed data: a
tenant with an ICP document, a price book and leads. Model calls go to the offline provider unless a test
points the tenant at a fake provider."""

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import session_scope
from app.models import AgentRun, DocumentChunk, Lead, RunStep, Tenant
from app.runs import executor
from app.runs import service as runs
from tests.agents.helpers import ICP_MD, PRICE_BOOK
from tests.builders import TenantFixture, committed_tenant
from tests.knowledge.helpers import ingest
from tests.records import add_item, add_lead


@dataclass
class World:
    tenant: TenantFixture

    @property
    def ctx(self) -> TenantContext:
        return TenantContext.system(self.tenant.id)

    def add_icp(self, content: str = ICP_MD) -> dict[str, str]:
        """An ICP document, ingested and ready; returns its chunks' texts by id."""
        with session_scope(self.tenant.id) as session:
            document = ingest(session, self.tenant.id, "Ideal customer profile", content,
                              content_type="text/markdown", tags=["icp"])
            return {str(chunk.id): chunk.text for chunk in session.scalars(
                select(DocumentChunk).where(DocumentChunk.document_id == document.id))}

    def add_price_book(self, items: list[dict[str, Any]] = PRICE_BOOK) -> None:
        with session_scope(self.tenant.id) as session:
            for item in items:
                add_item(session, self.tenant.id, **item)

    def add_lead(self, status: str = "new", **fields: Any) -> uuid.UUID:
        with session_scope(self.tenant.id) as session:
            return add_lead(session, self.tenant.id, status=status, **fields).id

    def lead(self, lead_id: uuid.UUID) -> Lead:
        with session_scope(self.tenant.id) as session:
            return session.get_one(Lead, lead_id)

    def set_settings(self, **settings: Any) -> None:
        with session_scope(self.tenant.id) as session:
            tenant = session.get_one(Tenant, self.tenant.id)
            tenant.settings = {**tenant.settings, **settings}

    def start(self, agent: str, lead_id: uuid.UUID) -> uuid.UUID:
        with session_scope(self.tenant.id) as session:
            return runs.create_run(session, self.ctx, agent, {"lead_id": str(lead_id)}).id

    def execute(self, run_id: uuid.UUID) -> AgentRun:
        executor.execute(run_id, self.tenant.id, worker="test@local")
        return self.run(run_id)

    def run_agent(self, agent: str, lead_id: uuid.UUID) -> AgentRun:
        return self.execute(self.start(agent, lead_id))

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


@pytest.fixture
def world(committed_db) -> World:
    return World(committed_tenant(committed_db))


@pytest.fixture
def llm_env(monkeypatch) -> Iterator[Callable[..., None]]:
    """Deployment settings through the environment, as in production (the executor runs in this process)."""

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), value if isinstance(value, str) else json.dumps(value))
        get_settings.cache_clear()

    apply(LLM_TIMEOUT_SECONDS="2", LLM_MAX_RETRIES="0", OPENAI_API_KEY="sk-test-0000000000000000000000")
    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
