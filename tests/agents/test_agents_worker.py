"""The SDR and sales agents end to end: started through the HTTP API, executed by a real Celery worker
process, read back through the API. A lead and an ICP document become a qualified lead with a drafted
email waiting for review; once contacted, a deal in `proposal` at the price book's price, waiting too."""

import uuid

import pytest

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import session_scope
from app.leads import service as leads
from app.leads.state import LeadStatus
from app.models import AgentRun
from tests.agents.conftest import World
from tests.agents.helpers import FIT_LEAD
from tests.runs.cluster import Cluster, engine_env, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(migrated, tmp_path):
    running = Cluster(engine_env(migrated), tmp_path)
    yield running
    running.stop()


def _finished(world: World, run_id: str) -> AgentRun:
    run_id = uuid.UUID(run_id)
    wait_until(lambda: world.run(run_id).status not in ("queued", "running", "retry_scheduled"), 120,
               message=f"run {run_id} did not finish")
    return world.run(run_id)


def test_a_lead_is_qualified_emailed_for_review_then_proposed_at_the_book_price(world, live_client, cluster):
    cluster.start_worker("agents", queues="agents.sdr,agents.sales,maintenance")
    cluster.start_beat()
    world.add_icp()
    world.add_price_book()
    lead_id = world.add_lead(**FIT_LEAD)
    operator, viewer = world.tenant.headers(Role.operator), world.tenant.headers(Role.viewer)

    started = live_client.post("/api/v1/agents/sdr/run", json={"input": {"lead_id": str(lead_id)}}, headers=operator)
    assert started.status_code == 202, started.text
    sdr = _finished(world, started.json()["id"])
    assert sdr.status == "awaiting_review", sdr.error

    detail = live_client.get(f"/api/v1/runs/{sdr.id}", headers=viewer).json()
    assert [step["name"] for step in detail["steps"]] == [
        "load", "retrieve_icp", "judge", "record_qualification", "write_email", "open_email_review"]
    assert {call["provider"] for call in detail["model_calls"]} == {"offline"}
    assert (detail["output"]["score"], detail["output"]["bucket"]) == (100, "hot")
    [review] = live_client.get("/api/v1/reviews", params={"entity_type": "email"}, headers=viewer).json()["items"]
    assert (review["status"], review["entity_id"]) == ("pending", detail["output"]["email_id"])
    assert review["proposal"]["body"].startswith("Hi Ada,") and review["citations"]
    assert world.lead(lead_id).status == "qualified"

    # What the approved first email's send does to the lead (the email and pipeline stages' part).
    with session_scope(world.tenant.id) as session:
        lead = leads.get_lead(session, TenantContext.system(world.tenant.id), lead_id, for_update=True)
        leads.change_status(session, TenantContext.system(world.tenant.id), lead, LeadStatus.contacted)

    started = live_client.post("/api/v1/agents/sales/run", json={"input": {"lead_id": str(lead_id)}},
                               headers=operator)
    assert started.status_code == 202, started.text
    sales = _finished(world, started.json()["id"])
    assert sales.status == "awaiting_review", sales.error
    assert (sales.output["package_code"], sales.output["price"], sales.output["currency"]) == (
        "growth", "1250.00", "EUR")

    [deal] = live_client.get("/api/v1/deals", params={"lead_id": str(lead_id)}, headers=viewer).json()["items"]
    assert (deal["id"], deal["stage"], deal["package_code"], deal["list_price"], deal["amount"]) == (
        sales.output["deal_id"], "proposal", "growth", "1250.00", "1250.00")
    proposal = live_client.get(f"/api/v1/reviews/proposal/{deal['id']}", headers=viewer).json()
    assert (proposal["status"], proposal["proposal"]["price"], proposal["proposal"]["currency"]) == (
        "pending", "1250.00", "EUR")
