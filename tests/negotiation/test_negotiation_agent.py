"""The negotiation agent through the real executor, on committed records: the offline negotiator within the
policy, a provider that answers below the floor (refused in code, escalated, never sent), answers that go
back up or repeat an offer (clamped: concessions never move back), the last round and rounds run out, and a
deal won while its run waited."""

import uuid
from decimal import Decimal

from app.auth.permissions import Role
from app.core.context import Principal, TenantContext
from app.core.db import session_scope
from app.models import Deal, NegotiationRound, Review
from app.negotiation import service
from app.negotiation.schemas import OfferIn, PolicyIn
from tests.agents.conftest import World
from tests.llm.fake_providers import Answer, FakeProvider
from tests.negotiation.helpers import deal_in_proposal

D = Decimal
STEPS = ["load", "propose", "record_offer"]


def _deal(world: World, **fields) -> uuid.UUID:
    with session_scope(world.tenant.id) as session:
        return deal_in_proposal(session, world.tenant.id, **fields).id


def _operator(world: World) -> TenantContext:
    return TenantContext(world.tenant.id, Principal("user", world.tenant.users[Role.operator], Role.operator))


def _move(world: World, deal_id: uuid.UUID, kind: str, amount: str | None = None, **fields) -> dict:
    with session_scope(world.tenant.id) as session:
        body = OfferIn(kind=kind, amount=amount, **fields)
        return service.post_offer(session, _operator(world), deal_id, body).model_dump(mode="json")


def _counter(world: World, deal_id: uuid.UUID, amount: str, **fields):
    run_id = uuid.UUID(_move(world, deal_id, "counter", amount, **fields)["run"]["id"])
    return world.execute(run_id)


def _policy(world: World, package_code: str | None = None, **values) -> None:
    admin = TenantContext(world.tenant.id, Principal("user", world.tenant.users[Role.admin], Role.admin))
    with session_scope(world.tenant.id) as session:
        service.put_policy(session, admin, package_code, PolicyIn(**values))


def _offer(world: World, offer_id: str) -> NegotiationRound:
    with session_scope(world.tenant.id) as session:
        return session.get_one(NegotiationRound, uuid.UUID(offer_id))


def _deal_row(world: World, deal_id: uuid.UUID) -> Deal:
    with session_scope(world.tenant.id) as session:
        return session.get_one(Deal, deal_id)


def _use_fake_model(world: World, llm_env, fake: FakeProvider) -> None:
    llm_env(OPENAI_BASE_URL=fake.base_url)
    world.set_settings(llm={"provider": "openai", "model": "gpt-4o-mini"})


def _answer(amount: str, message: str = "Thank you for coming back to us, Grace.", concessions=("upfront_payment",),
            reasoning: str = "Meeting them partway.") -> Answer:
    return Answer({"amount": amount, "concessions": list(concessions), "message": message, "reasoning": reasoning})


def test_the_offline_negotiator_meets_the_client_partway_and_the_reviewer_approves_past_the_threshold(
        world, live_client):
    deal_id = _deal(world)

    first = _counter(world, deal_id, "800.00", terms={"concessions": ["longer_term"]})
    assert first.status == "succeeded", first.error
    output = first.output
    assert (output["status"], output["amount"], output["model_amount"], output["discount_pct"], output["clamped"]) == (
        "sent", "900.00", "900.00", "10.00", False)
    assert output["concessions"] == ["longer_term"] and output["offline"] is True  # the one the client offered
    assert output["message"].startswith("Thank you for your counter-offer, Grace. We cannot go as low as you asked "
                                        "for Growth, but we can meet you partway in exchange for the longer commitment")
    assert output["message"].endswith("\n\nOur offer: 900.00 EUR per month, with a longer commitment term.")
    assert "halfway is 900.00" in output["reasoning"] and world.steps(first.id) == STEPS
    assert _deal_row(world, deal_id).amount == D("900.0000")
    assert _offer(world, output["offer_id"]).status == "sent"

    second = _counter(world, deal_id, "850.00")
    assert second.status == "awaiting_review", second.error
    assert (second.output["status"], second.output["amount"], second.output["concessions"]) == (
        "pending_review", "875.00", ["longer_term"])  # the second concession we ask for when none was offered
    assert [reason["code"] for reason in second.output["review_reasons"]] == ["past_threshold"]
    assert _deal_row(world, deal_id).amount == D("900.0000")  # not sent yet

    decided = live_client.post(f"/api/v1/reviews/offer/{second.output['offer_id']}/decision",
                               json={"decision": "approve"}, headers=world.tenant.headers(Role.reviewer))
    assert decided.status_code == 200, decided.text
    assert world.run(second.id).status == "succeeded"
    assert _offer(world, second.output["offer_id"]).status == "sent"
    assert _deal_row(world, deal_id).amount == D("875.0000")

    last = _counter(world, deal_id, "860.00")
    assert (last.output["status"], last.output["amount"]) == ("pending_review", "867.50")
    assert [reason["code"] for reason in last.output["review_reasons"]] == ["last_round", "past_threshold"]

    negotiation = live_client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=world.tenant.headers(Role.viewer))
    rounds = negotiation.json()["rounds"]
    assert [(r["round"], r["side"], r["amount"], r["status"]) for r in rounds] == [
        (1, "client", "800.00", "received"), (1, "agent", "900.00", "sent"), (2, "client", "850.00", "received"),
        (2, "agent", "875.00", "sent"), (3, "client", "860.00", "received"), (3, "agent", "867.50", "pending_review")]
    assert rounds[1]["reasoning"] and rounds[1]["policy"]["source"] == "built_in"


def test_a_price_below_the_floor_from_the_model_is_refused_in_code_escalated_and_never_sent(
        world, live_client, llm_env):
    deal_id = _deal(world)
    _policy(world, "growth", floor_price=D("900.00"), max_discount_pct=D(20), approval_threshold_pct=D(10))
    with FakeProvider("openai", _answer("600.00", reasoning="They are price sensitive; go low.")) as fake:
        _use_fake_model(world, llm_env, fake)
        run = _counter(world, deal_id, "800.00")

    assert run.status == "awaiting_review", run.error
    output = run.output
    assert (output["status"], output["amount"], output["model_amount"], output["clamped"], output["offline"]) == (
        "escalated", "900.00", "600.00", True, False)
    assert [reason["code"] for reason in output["clamp_reasons"]] == [
        "below_floor", "past_max_discount", "below_client_counter"]
    assert [reason["code"] for reason in output["review_reasons"]] == ["below_floor"]
    offer = _offer(world, output["offer_id"])
    assert (offer.status, offer.amount, offer.model_amount, offer.clamped) == (
        "escalated", D("900.0000"), D("600.0000"), True)
    assert offer.reasoning == "They are price sensitive; go low." and offer.policy["floor_price"] == "900.00"
    assert offer.policy["source"] == "package"
    [review] = world.rows(Review, entity_type="offer", entity_id=offer.id)
    assert (review.status, review.proposal["amount"], review.run_id) == ("pending", "900.00", run.id)
    assert "below the floor" in review.summary
    assert _deal_row(world, deal_id).amount == D("1000.0000")  # never sent alone

    rejected = live_client.post(f"/api/v1/reviews/offer/{offer.id}/decision", json={"decision": "reject"},
                                headers=world.tenant.headers(Role.reviewer))
    assert rejected.status_code == 200
    assert (_offer(world, str(offer.id)).status, world.run(run.id).status) == ("refused", "rejected")
    assert _deal_row(world, deal_id).amount == D("1000.0000")


def test_concessions_never_move_back_and_the_message_states_no_other_price(world, llm_env):
    deal_id = _deal(world)
    up_again = _answer("980.00", message="Thanks, Grace. We can do 980 EUR if you pay upfront. Looking forward.")
    with FakeProvider("openai", _answer("950.00"), up_again, up_again, _answer("949.99")) as fake:
        _use_fake_model(world, llm_env, fake)
        first = _counter(world, deal_id, "800.00")
        second = _counter(world, deal_id, "820.00")
        third = _counter(world, deal_id, "830.00")

    assert (first.output["status"], first.output["amount"]) == ("sent", "950.00")
    # Back up: clamped to one cent below our standing offer; the sentence stating the model's price is dropped.
    assert (second.output["status"], second.output["amount"], second.output["model_amount"]) == (
        "sent", "949.99", "980.00")
    assert [reason["code"] for reason in second.output["clamp_reasons"]] == ["above_standing_offer"]
    assert "the message states 980" in str(fake.requests[2])  # the repair request named the problem
    assert second.output["dropped"] == ["We can do 980 EUR if you pay upfront."]
    assert second.output["message"] == ("Thanks, Grace. Looking forward.\n\nOur offer: 949.99 EUR per month, paid "
                                        "upfront for the term.")
    # The same offer again: never twice.
    assert (third.output["amount"], [r["code"] for r in third.output["clamp_reasons"]]) == ("949.98", ["repeats_offer"])
    assert third.output["status"] == "pending_review"  # the third of three rounds
    assert _deal_row(world, deal_id).amount == D("949.9900")


def test_when_the_rounds_run_out_the_answer_is_escalated(world, live_client):
    deal_id = _deal(world)
    _policy(world, max_rounds=1)
    last = _counter(world, deal_id, "950.00")
    assert (last.output["status"], last.output["amount"]) == ("pending_review", "975.00")
    assert [reason["code"] for reason in last.output["review_reasons"]] == ["last_round"]
    live_client.post(f"/api/v1/reviews/offer/{last.output['offer_id']}/decision", json={"decision": "reject"},
                     headers=world.tenant.headers(Role.reviewer))

    beyond = _counter(world, deal_id, "960.00")
    assert beyond.status == "awaiting_review" and beyond.output["status"] == "escalated"
    assert [reason["code"] for reason in beyond.output["review_reasons"]] == ["rounds_exhausted"]
    assert _deal_row(world, deal_id).amount == D("1000.0000")


def test_a_deal_won_while_its_run_waited_gets_no_answer(world):
    deal_id = _deal(world)
    run_id = uuid.UUID(_move(world, deal_id, "counter", "800.00")["run"]["id"])
    assert _move(world, deal_id, "accept")["deal"]["stage"] == "won"
    run = world.execute(run_id)
    assert (run.status, run.error["code"]) == ("failed", "conflict")
    assert "won" in run.error["message"]
    assert [row.side for row in world.rows(NegotiationRound, deal_id=deal_id)] == ["client", "client"]
