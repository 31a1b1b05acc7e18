"""LLM test helpers: settings applied through the environment (as in production), and a committed tenant
with a running run whose RunContext is the engine's own ExecutionContext."""

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import get_settings
from app.core.context import TenantContext
from app.models import AgentRun, LlmLog, RunStep, Tenant
from app.runs.executor import ExecutionContext, Heartbeat
from app.runs.state import RunStatus
from tests.builders import TenantFixture, make_tenant
from tests.runs.cluster import Cluster, engine_env

# Fast and quiet defaults for every LLM test; a test overrides what it is about.
TEST_LLM_SETTINGS = {
    "LLM_TIMEOUT_SECONDS": "2",
    "LLM_MAX_RETRIES": "2",
    "LLM_RETRY_BASE_SECONDS": "0.01",
    "LLM_RETRY_MAX_WAIT_SECONDS": "5",
    "LLM_BREAKER_FAILURE_THRESHOLD": "50",
    "OPENAI_API_KEY": "sk-test-0000000000000000000000",
    "ANTHROPIC_API_KEY": "sk-ant-test-000000000000000000",
}


@pytest.fixture
def cluster(migrated, tmp_path) -> Iterator[Cluster]:
    """Celery worker and beat processes (the run engine's test helpers); stopped after the test."""
    running = Cluster(engine_env(migrated), tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="session", autouse=True)
def _llm_test_agent_in_this_process():
    import tests.llm.agents  # noqa: F401  (the API side must know the agent the workers run)


@pytest.fixture
def llm_settings(monkeypatch) -> Iterator[Callable[..., None]]:
    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), value if isinstance(value, str) else json.dumps(value))
        get_settings.cache_clear()

    apply(**TEST_LLM_SETTINGS)
    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@dataclass
class RunWorld:
    tenant: TenantFixture
    run_id: uuid.UUID
    factory: sessionmaker[Session]

    def context(self, attempt: int = 1) -> ExecutionContext:
        """The context the engine builds when attempt `attempt` claims the run: with the steps recorded so far."""
        with self.factory() as session:
            session.info["tenant_id"] = self.tenant.id
            session.execute(update(AgentRun).where(AgentRun.id == self.run_id).values(attempt=attempt))
            run = session.get(AgentRun, self.run_id)
            recorded = dict(session.execute(
                select(RunStep.name, RunStep.result).where(RunStep.run_id == self.run_id)).all())
            session.commit()
        return ExecutionContext(run.id, run.tenant_id, run.agent, attempt, TenantContext.system(run.tenant_id),
                                Heartbeat(run), factory=self.factory, recorded=recorded)

    def logs(self) -> list[LlmLog]:
        with self.factory() as session:
            session.info["tenant_id"] = self.tenant.id
            return list(session.scalars(select(LlmLog).where(LlmLog.run_id == self.run_id).order_by(LlmLog.id)))

    def set_llm_settings(self, llm: dict[str, Any]) -> None:
        with self.factory() as session:
            session.info["tenant_id"] = self.tenant.id
            session.execute(update(Tenant).where(Tenant.id == self.tenant.id).values(settings={"llm": llm}))
            session.commit()

    def new_run(self, agent: str = "test_llm") -> "RunWorld":
        return RunWorld(self.tenant, _insert_run(self.factory, self.tenant.id, agent), self.factory)


def _insert_run(factory: sessionmaker[Session], tenant_id: uuid.UUID, agent: str) -> uuid.UUID:
    run_id = uuid.uuid4()
    with factory() as session:
        session.info["tenant_id"] = tenant_id
        session.add(AgentRun(id=run_id, tenant_id=tenant_id, agent=agent, status=RunStatus.running.value, input={},
                             attempt=1, max_attempts=3, requested_by_type="system"))
        session.commit()
    return run_id


@pytest.fixture
def llm_run(committed_db, llm_settings) -> Callable[..., RunWorld]:
    """A committed tenant (optionally with settings["llm"]) and a running run of agent `test_llm`."""

    def make(llm: dict[str, Any] | None = None, agent: str = "test_llm") -> RunWorld:
        with committed_db() as session:
            tenant = make_tenant(session)
            session.commit()
        world = RunWorld(tenant, _insert_run(committed_db, tenant.id, agent), committed_db)
        if llm is not None:
            world.set_llm_settings(llm)
        return world

    return make
