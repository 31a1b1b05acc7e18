"""POST /api/v1/agents/{agent}/run refuses a model-calling agent's run while the tenant's model budget is
spent (402) or its LLM settings cannot work (422), and creates nothing; agents without model calls run."""

import pytest
from sqlalchemy import func, select, update

from app.auth.permissions import Role
from app.models import AgentRun, Tenant
from tests.builders import make_tenant


def _start(client, tenant, agent: str, body: dict):
    return client.post(f"/api/v1/agents/{agent}/run", json={"input": body}, headers=tenant.headers(Role.operator))


@pytest.mark.parametrize(("llm", "status", "title", "fragment"), [
    ({"budgets": {"monthly_tokens": 0}}, 402, "LLM budget exceeded", "0 of 0 tokens"),
    ({"budgets": {"monthly_cost_usd": "0"}}, 402, "LLM budget exceeded", "$0.00 of $0.00"),
    ({"provider": "gpt"}, 422, "Invalid LLM configuration", "settings.llm.provider"),
])
def test_a_model_calling_agent_is_refused_and_nothing_is_created(db, client, llm, status, title, fragment):
    tenant = make_tenant(db)
    db.execute(update(Tenant).where(Tenant.id == tenant.id).values(settings={"llm": llm}))
    response = _start(client, tenant, "test_llm_qualify", {})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == title and fragment in problem["detail"]
    assert db.scalar(select(func.count()).select_from(AgentRun).where(AgentRun.tenant_id == tenant.id)) == 0

    # The diagnostic agent makes no model call: a spent model budget does not stop it.
    assert _start(client, tenant, "echo", {"message": "still up"}).status_code == 202


def test_within_budget_the_run_is_accepted(db, client):
    tenant = make_tenant(db)
    db.execute(update(Tenant).where(Tenant.id == tenant.id).values(
        settings={"llm": {"budgets": {"monthly_tokens": 1000}}}))
    assert _start(client, tenant, "test_llm_qualify", {}).status_code == 202
