"""The negotiation end to end: offers posted through the HTTP API, answered by a real Celery worker process,
read back through the API. From a deal in `proposal`: a counter-offer within the policy is answered by the
offline negotiator and sent at once; then, with a provider that answers below the floor, the next one is
refused in code and waits for a reviewer, never sent."""

import uuid

import pytest

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun
from tests.agents.conftest import World
from tests.llm.fake_providers import Answer, FakeProvider
from tests.negotiation.helpers import deal_in_proposal
from tests.runs.cluster import Cluster, engine_env, wait_until

pytestmark = pytest.mark.slow
MODEL_ENV = {"OPENAI_API_KEY": "sk-test-0000000000000000000000", "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT_SECONDS": "5"}


def _finished(world: World, run_id: str) -> AgentRun:
    run_id = uuid.UUID(run_id)
    wait_until(lambda: world.run(run_id).status not in ("queued", "running", "retry_scheduled"), 120,
               message=f"run {run_id} did not finish")
    return world.run(run_id)


def test_counter_offers_answered_by_a_worker_within_policy_then_below_the_floor(
        world, live_client, llm_env, migrated, tmp_path):
    below_floor = Answer({"amount": "600.00", "concessions": ["upfront_payment"],
                          "message": "Thank you, Grace; we are keen to make this work.", "reasoning": "Go low."})
    with FakeProvider("openai", below_floor) as fake:
        llm_env(OPENAI_BASE_URL=fake.base_url, **MODEL_ENV)
        cluster = Cluster(engine_env(migrated, OPENAI_BASE_URL=fake.base_url, **MODEL_ENV), tmp_path)
        try:
            cluster.start_worker("negotiation", queues="agents.negotiation,maintenance")
            cluster.start_beat()
            _negotiate(world, live_client, fake)
        finally:
            cluster.stop()


def _negotiate(world: World, live_client, fake: FakeProvider) -> None:
    with session_scope(world.tenant.id) as session:
        deal_id = deal_in_proposal(session, world.tenant.id).id
    admin, operator = world.tenant.headers(Role.admin), world.tenant.headers(Role.operator)
    viewer = world.tenant.headers(Role.viewer)
    policy = live_client.put("/api/v1/policies/negotiation", params={"package_code": "growth"}, headers=admin,
                             json={"floor_price": "900.00", "max_discount_pct": "20", "approval_threshold_pct": "15"})
    assert policy.status_code == 200, policy.text

    # Within the policy: the offline negotiator meets the client halfway, and the offer goes out at once.
    first = live_client.post(f"/api/v1/deals/{deal_id}/offers", headers={**operator, "Idempotency-Key": "r1"},
                             json={"kind": "counter", "amount": "850.00", "message": "Our budget is 850."})
    assert first.status_code == 202, first.text
    assert first.json()["deal"]["stage"] == "negotiation"
    run = _finished(world, first.json()["run"]["id"])
    assert run.status == "succeeded", run.error
    assert (run.output["status"], run.output["amount"], run.output["offline"]) == ("sent", "925.00", True)
    negotiation = live_client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=viewer).json()
    assert (negotiation["deal"]["amount"], negotiation["standing_offer"]) == ("925.00", "925.00")
    assert [(r["side"], r["amount"], r["status"]) for r in negotiation["rounds"]] == [
        ("client", "850.00", "received"), ("agent", "925.00", "sent")]
    assert negotiation["rounds"][1]["message"].endswith("Our offer: 925.00 EUR per month, paid upfront for the term.")

    # A model that answers below the floor: code refuses the price, and a reviewer must decide.
    world.set_settings(llm={"provider": "openai", "model": "gpt-4o-mini"})
    second = live_client.post(f"/api/v1/deals/{deal_id}/offers", headers=operator,
                              json={"kind": "counter", "amount": "880.00"})
    assert second.status_code == 202, second.text
    run = _finished(world, second.json()["run"]["id"])
    assert run.status == "awaiting_review", run.error
    assert fake.calls == 1
    assert (run.output["status"], run.output["amount"], run.output["model_amount"]) == ("escalated", "900.00", "600.00")
    negotiation = live_client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=viewer).json()
    ours = negotiation["rounds"][-1]
    assert (ours["status"], ours["amount"], ours["model_amount"], ours["clamped"]) == (
        "escalated", "900.00", "600.00", True)
    assert "below_floor" in [reason["code"] for reason in ours["clamp_reasons"]]
    assert [reason["code"] for reason in ours["review_reasons"]] == ["below_floor"]
    assert negotiation["standing_offer"] == "925.00"  # never sent
    assert negotiation["waiting_for"] == "a reviewer to decide our offer of round 2"
    [review] = live_client.get("/api/v1/reviews", params={"entity_type": "offer"}, headers=viewer).json()["items"]
    assert (review["status"], review["entity_id"], review["proposal"]["amount"]) == ("pending", ours["id"], "900.00")
