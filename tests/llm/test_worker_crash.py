"""A model call that succeeded is not made again when the run is re-executed after its worker was killed.

Real processes: the API (in-process), a Celery worker and beat (the reaper) on the test database and Redis,
and a fake OpenAI server that counts its calls.
"""

import json

from sqlalchemy import select, update

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun, LlmLog, RunStep, Tenant
from tests.builders import committed_tenant
from tests.llm.conftest import TEST_LLM_SETTINGS
from tests.llm.fake_providers import Answer, FakeProvider
from tests.llm.scenario import GOOD
from tests.runs.cluster import wait_until

QUEUES = "agents.test_llm_qualify,maintenance"


def _steps(tenant_id, run_id) -> dict[str, int]:
    with session_scope(tenant_id) as session:
        return dict(session.execute(select(RunStep.name, RunStep.attempt).where(RunStep.run_id == run_id)).all())


def test_the_model_is_not_called_again_after_the_worker_dies(committed_db, live_client, cluster, llm_settings):
    tenant = committed_tenant(committed_db)
    with session_scope(tenant.id) as session:
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(settings={"llm": {"provider": "openai"}}))

    with FakeProvider("openai", Answer(GOOD, input_tokens=400, output_tokens=40)) as fake:
        llm_settings(OPENAI_BASE_URL=fake.base_url)  # the API process checks the tenant's settings at enqueue
        cluster.env.update(TEST_LLM_SETTINGS, OPENAI_BASE_URL=fake.base_url,
                           AGENT_PLUGINS=json.dumps(["tests.runs.agents", "tests.llm.agents"]))
        cluster.start_worker("doomed", concurrency=1, queues=QUEUES)
        response = live_client.post("/api/v1/agents/test_llm_qualify/run", json={"input": {"hold_ms": 3000}},
                                    headers=tenant.headers(Role.operator))
        assert response.status_code == 202, response.text
        run_id = response.json()["id"]

        # The model answered and step `qualify` is recorded; the worker is now inside step `hold`.
        wait_until(lambda: "qualify" in _steps(tenant.id, run_id), 30, message="the model step was not recorded")
        cluster.kill_worker("doomed")
        assert fake.calls == 1

        cluster.start_worker("survivor", concurrency=1, queues=QUEUES)
        cluster.start_beat()

        def finished() -> bool:
            with session_scope(tenant.id) as session:
                return session.get(AgentRun, run_id).status == "succeeded"

        wait_until(finished, 60, message="the run did not recover from the killed worker")
        assert fake.calls == 1

    with session_scope(tenant.id) as session:
        run = session.get(AgentRun, run_id)
        logs = session.scalars(select(LlmLog).where(LlmLog.run_id == run_id)).all()
    assert run.attempt == 2 and run.output["finished_attempt"] == 2
    assert run.output["provider"] == "openai" and run.output["qualification"] == GOOD
    assert _steps(tenant.id, run_id) == {"qualify": 1, "hold": 2}
    assert [(log.run_attempt, log.status, log.input_tokens) for log in logs] == [(1, "ok", 400)]

    detail = live_client.get(f"/api/v1/runs/{run_id}", headers=tenant.headers(Role.viewer)).json()
    assert [(c["provider"], c["status"], c["run_attempt"]) for c in detail["model_calls"]] == [("openai", "ok", 1)]
