"""The sales agent through the real executor, on committed records: the package from the price book, the
price from the book in code whatever a model writes, the deal and its proposal review."""

import os
import subprocess
import sys
import uuid
from decimal import Decimal

from app.auth.permissions import Role
from app.core.config import PROJECT_ROOT
from app.models import Deal, Review
from tests.agents.helpers import FIT_LEAD
from tests.llm.fake_providers import Answer, FakeProvider

SALES_STEPS = ["load", "propose", "open_proposal_review"]


def test_a_contacted_lead_gets_a_proposal_priced_from_the_book(world):
    world.add_price_book()
    lead_id = world.add_lead(status="contacted", score=100, bucket="hot", **FIT_LEAD)

    run = world.run_agent("sales", lead_id)

    assert run.status == "awaiting_review", run.error
    output = run.output
    assert (output["package_code"], output["price"], output["currency"], output["billing_period"]) == (
        "growth", "1250.00", "EUR", "monthly")
    assert (output["package_chosen_by"], output["offline"]) == ("model", True)  # the offline rules, as the model
    assert output["summary"].startswith("Growth for Analytical Engines.") and len(output["next_steps"]) == 3
    assert world.steps(run.id) == SALES_STEPS

    [deal] = world.rows(Deal, lead_id=lead_id)
    assert (deal.id, deal.stage, deal.package_code, deal.list_price, deal.amount, deal.currency, deal.run_id) == (
        uuid.UUID(output["deal_id"]), "proposal", "growth", Decimal("1250.0000"), Decimal("1250.0000"), "EUR", run.id)
    assert deal.proposal is None  # applied only when a reviewer approves it
    [review] = world.rows(Review, entity_type="proposal", entity_id=deal.id)
    assert (review.id, review.status, review.agent, review.run_id) == (
        uuid.UUID(output["review_id"]), "pending", "sales", run.id)
    assert review.proposal == {"package_code": "growth", "price": "1250.00", "currency": "EUR",
                               "billing_period": "monthly", "summary": output["summary"], "scope": output["scope"],
                               "next_steps": output["next_steps"]}
    assert review.citations[0]["source"] == "price_book" and "1250.00 EUR" in review.summary
    assert world.lead(lead_id).status == "contacted"


def test_the_price_is_the_books_whatever_the_model_says(world, llm_env):
    world.add_price_book()
    lead_id = world.add_lead(status="contacted", **FIT_LEAD)
    cheap = {"package_code": "enterprise", "price": "1.00", "currency": "USD",
             "summary": "Enterprise fits Analytical Engines. For you only €990 a month.",
             "scope": ["Dedicated success manager", "Free setup worth $5,000"], "next_steps": ["Client: sign"],
             "rationale": "They will grow."}
    unknown = {**cheap, "package_code": "platinum"}
    with FakeProvider("openai", Answer(cheap), Answer(cheap), Answer(unknown), Answer(unknown)) as fake:
        llm_env(OPENAI_BASE_URL=fake.base_url)
        world.set_settings(llm={"provider": "openai", "model": "gpt-4o-mini"})
        priced = world.run_agent("sales", lead_id)
        other_lead = world.add_lead(status="contacted", **{**FIT_LEAD, "email": None})
        ruled = world.run_agent("sales", other_lead)

    # The model's package is kept; its prices are not: the output and the deal carry the book's.
    assert priced.status == "awaiting_review", priced.error
    assert (priced.output["package_code"], priced.output["price"], priced.output["currency"]) == (
        "enterprise", "3900.00", "EUR")
    assert priced.output["summary"] == "Enterprise fits Analytical Engines."
    assert priced.output["dropped"] == ["For you only €990 a month.", "Free setup worth $5,000"]
    assert "the proposal states 990" in str(fake.requests[1])  # the repair request named the problem
    [deal] = world.rows(Deal, lead_id=lead_id)
    assert (deal.list_price, deal.amount, deal.currency) == (Decimal("3900.0000"), Decimal("3900.0000"), "EUR")

    # A package the book does not have, even after the repair: the size rule chooses, at the book's price.
    assert ruled.status == "awaiting_review", ruled.error
    assert (ruled.output["package_code"], ruled.output["price"], ruled.output["package_chosen_by"]) == (
        "growth", "1250.00", "rule")
    assert "'platinum'" in ruled.output["reason"]


def test_leads_that_cannot_get_a_proposal_are_refused_with_the_reason(world):
    new = world.run_agent("sales", world.add_lead(**FIT_LEAD))
    assert (new.status, new.error["code"]) == ("failed", "lead_not_eligible")
    assert "'new'" in new.error["message"] and "contacted" in new.error["message"]

    no_book = world.run_agent("sales", world.add_lead(status="contacted", **{**FIT_LEAD, "email": None}))
    assert (no_book.status, no_book.error["code"]) == ("failed", "price_book_empty")


def test_approving_the_proposal_applies_it_to_the_deal_and_locks_the_price(world, live_client):
    world.add_price_book()
    lead_id = world.add_lead(status="contacted", **FIT_LEAD)
    run = world.run_agent("sales", lead_id)
    url = f"/api/v1/reviews/proposal/{run.output['deal_id']}/decision"
    reviewer = world.tenant.headers(Role.reviewer)

    repriced = live_client.post(url, json={"decision": "edit", "edited_output": {"price": "990.00"}}, headers=reviewer)
    assert repriced.status_code == 422 and "price" in repriced.json()["detail"]

    edited = live_client.post(url, json={"decision": "edit", "edited_output": {"summary": "Growth, as discussed."}},
                              headers=reviewer)
    assert edited.status_code == 200, edited.text
    [deal] = world.rows(Deal, lead_id=lead_id)
    assert deal.proposal["summary"] == "Growth, as discussed." and deal.proposal["price"] == "1250.00"
    assert world.lead(lead_id).status == "proposal" and world.run(run.id).status == "succeeded"


def test_a_fresh_process_knows_the_proposal_review_kind():
    """An API replica or a pipeline worker may decide a proposal before it ever ran an agent."""
    probe = "from app.reviews.registry import get_kind; print(get_kind('proposal').locked_fields == " \
            "frozenset({'package_code', 'price', 'currency', 'billing_period'}))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=60)
    assert result.stdout.strip() == "True", result.stderr
