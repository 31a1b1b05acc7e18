"""The sales agent's guardrails, as plain functions: the package must be in the price book, the price is
the book's whatever the text says, and the size rule that chooses when the model's choice is unusable."""

import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.agents.sales import (
    Loaded, Package, ProposalAnswer, ProposalContent, package_for_size, package_issues, price_issues, settle,
    stated_amounts, without_other_amounts,
)
from app.agents.records import RunOrigin
from tests.agents.helpers import FIT_LEAD, PRICE_BOOK

PACKAGES = [Package.model_validate(item) for item in PRICE_BOOK]


def _answer(code: str, summary: str = "Growth fits Analytical Engines.", **fields) -> ProposalAnswer:
    return ProposalAnswer(package_code=code, summary=summary, scope=fields.pop("scope", ["Onboarding workshop"]),
                          next_steps=fields.pop("next_steps", ["Client: confirm the start date"]), **fields)


def _loaded(lead: dict | None = None) -> Loaded:
    return Loaded(lead_id=uuid.uuid4(), lead=lead or FIT_LEAD, qualification={}, company="Acme",
                  packages=PACKAGES, origin=RunOrigin(pipeline_id=None, requested_by_type="system",
                                                      requested_by_id=None))


def test_the_package_must_be_an_active_item_named_by_its_code():
    assert package_issues(_answer("growth"), PACKAGES) == []
    assert package_issues(_answer(" Growth "), PACKAGES) == []
    assert package_issues(_answer("premium"), PACKAGES) == [
        "'premium' is not the code of an active price book package; choose one of: starter, growth, enterprise"]


def test_amounts_of_money_are_found_in_text():
    assert stated_amounts("Only €1,100 a month, or EUR 990 upfront; $5 extra; 120 employees; 30%") == {
        Decimal(1100), Decimal(990), Decimal(5)}


def test_the_text_may_state_no_other_price_than_the_books():
    assert price_issues(_answer("growth", "Growth at 1250.00 EUR a month."), PACKAGES) == []
    assert price_issues(_answer("growth", "Growth, discounted to €990 for you.", next_steps=["Pay 500 EUR now"]),
                        PACKAGES) == [
        "the proposal states 500, but the price is the price book's 1250.00 EUR and is added by the system: state "
        "no other amount",
        "the proposal states 990, but the price is the price book's 1250.00 EUR and is added by the system: state "
        "no other amount",
    ]
    assert without_other_amounts("Growth fits. It costs €990. Start now.", Decimal("1250.00")) == (
        "Growth fits. Start now.", ["It costs €990."])
    assert without_other_amounts("Growth fits.\nStart now.", Decimal(1)) == ("Growth fits.\nStart now.", [])


@pytest.mark.parametrize(("size", "code"), [
    (12, "starter"), (50, "starter"), (120, "growth"), (250, "growth"), (251, "enterprise"), (5000, "enterprise"),
    (None, "growth"),
])
def test_package_for_size_reads_the_descriptions_first(size, code):
    assert package_for_size(size, PACKAGES)[0].code == code


def test_package_for_size_ranks_by_price_when_descriptions_say_nothing_and_leaves_add_ons_aside():
    plain = [Package(code=c, name=n, description="", list_price=Decimal(p), currency="EUR", billing_period="monthly")
             for c, n, p in [("b", "Business", "300"), ("a", "Basic", "100"), ("x", "Call recorder add-on", "12"),
                             ("c", "Corporate", "900")]]
    assert [package_for_size(size, plain)[0].code for size in (10, 100, 1000, None)] == ["a", "b", "c", "b"]
    assert "entry package" in package_for_size(10, plain)[1]
    with pytest.raises(ValueError):
        package_for_size(10, [])


def test_settle_keeps_the_models_package_and_the_books_price():
    proposal = settle(_answer("enterprise", "Enterprise for you. Special price: €2,000 a month.",
                              rationale="They plan to grow."), _loaded())
    assert (proposal.package.code, proposal.package.list_price, proposal.chosen_by) == (
        "enterprise", Decimal("3900.00"), "model")
    assert proposal.summary == "Enterprise for you." and proposal.dropped == ["Special price: €2,000 a month."]
    assert proposal.reason == "They plan to grow."


def test_settle_falls_back_to_the_size_rule_for_an_unknown_package_and_refills_emptied_text():
    proposal = settle(_answer("platinum", "Only €5 a month.", scope=["€5 off"], next_steps=["Pay $5"]), _loaded())
    assert (proposal.package.code, proposal.chosen_by) == ("growth", "rule")
    assert "'platinum'" in proposal.reason and "50 to 250" in proposal.reason
    assert proposal.summary.startswith("Growth for Analytical Engines.") and proposal.scope and proposal.next_steps
    assert proposal.dropped == ["Only €5 a month.", "€5 off", "Pay $5"]


def test_the_reviewed_proposal_carries_money_as_a_string_and_its_currency():
    content = ProposalContent(package_code="growth", price=Decimal("1250.00"), currency="eur",
                              billing_period="monthly", summary="s", scope=["a"], next_steps=["b"])
    assert content.model_dump(mode="json")["price"] == "1250.00" and content.currency == "EUR"
    with pytest.raises(ValidationError):
        ProposalContent.model_validate({**content.model_dump(mode="json"), "discount": "10"})
