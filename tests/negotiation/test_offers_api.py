"""POST /api/v1/deals/{id}/offers and GET /api/v1/deals/{id}/negotiation without workers (rolled-back DB): the
client's counter-offer starts a run, an acceptance wins the deal at our standing offer, walking away loses
it, both signal the pipeline; bad moves are clear 4xx that change nothing; another tenant's deal is 404; our
offers' reviews send or refuse them, and an expired one cannot be decided."""

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.signals import PIPELINE_ADVANCE_TASK
from app.models import AgentRun, AuditLog, Deal, Lead, NegotiationRound, OutboxMessage, Review
from app.negotiation import service
from app.negotiation.policy import DEFAULT_POLICY, settle_offer, snapshot
from app.reviews import service as reviews
from tests.builders import make_tenant, rebind
from tests.negotiation.helpers import deal_in_proposal, history, move

D = Decimal


def _offer(db, tenant, deal, proposed: str, round_number: int | None = None) -> NegotiationRound:
    """Our answer to the client's last counter-offer, as the negotiation agent's last step records it."""
    ctx = TenantContext.system(tenant.id)
    rounds = service.rounds_of(db, ctx, deal.id)
    counter = [row for row in rounds if row.side == "client"][-1]
    settled = settle_offer(D(proposed), proposed_concessions=["upfront_payment"], list_price=deal.list_price,
                           currency=deal.currency, policy=DEFAULT_POLICY, sent_offers=service.sent_offers(rounds),
                           client_amount=counter.amount, round_number=round_number or counter.round)
    return service.record_offer(db, ctx, service.OurOffer(
        deal_id=deal.id, round=counter.round, settled=settled, model_amount=D(proposed), message="Thank you.",
        reasoning="Halfway.", policy=snapshot(DEFAULT_POLICY, list_price=deal.list_price, currency=deal.currency,
                                              source="built_in"), run_id=counter.run_id))


def _advance_signals(db, pipeline_id: uuid.UUID) -> int:
    return db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.task == PIPELINE_ADVANCE_TASK, OutboxMessage.kwargs["pipeline_id"].astext == str(pipeline_id)))


def test_a_counter_offer_is_recorded_and_starts_a_negotiation_run(db, client):
    tenant = make_tenant(db)
    pipeline_id = uuid.uuid4()
    deal = deal_in_proposal(db, tenant.id, pipeline_id=pipeline_id)
    response = move(client, tenant, deal.id, "counter", "800.00", message="Our budget is tight.",
                    terms={"concessions": ["upfront_payment"], "term_months": 24})
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["deal"]["stage"], body["deal"]["amount"], body["run"]["status"]) == (
        "negotiation", "1000.00", "queued")
    assert (body["round"]["round"], body["round"]["side"], body["round"]["kind"], body["round"]["amount"],
            body["round"]["status"], body["round"]["discount_pct"]) == (1, "client", "counter", "800.00", "received",
                                                                        "20.00")
    assert body["round"]["terms"] == {"concessions": ["upfront_payment"], "term_months": 24, "note": ""}
    run = db.get(AgentRun, uuid.UUID(body["run"]["id"]))
    assert (run.agent, run.input, run.pipeline_id, run.idempotency_key) == (
        "negotiation", {"deal_id": str(deal.id), "round": 1}, pipeline_id, f"negotiation:{deal.id}:1")
    assert (run.requested_by_type, run.requested_by_id) == ("user", tenant.users[Role.operator])

    negotiation = history(client, tenant, deal.id)
    assert [(r["round"], r["side"], r["kind"]) for r in negotiation["rounds"]] == [(1, "client", "counter")]
    assert negotiation["rounds"][0]["policy"]["lowest_price"] == "850.00"
    assert negotiation["policy"]["source"] == "built_in" and negotiation["standing_offer"] == "1000.00"
    assert negotiation["waiting_for"].startswith("the negotiation agent's answer to the counter-offer of round 1")
    assert db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == tenant.id).order_by(AuditLog.id)).all()[-3:] \
        == ["deal.stage", "run.start", "deal.counter"]

    # Our answer is owed: the client cannot move again until it is made.
    again = move(client, tenant, deal.id, "counter", "820.00")
    assert again.status_code == 409 and "still being answered" in again.json()["detail"]


def test_the_idempotency_key_replays_a_counter_offer(db, client):
    tenant = make_tenant(db)
    deal = deal_in_proposal(db, tenant.id)
    key = {"Idempotency-Key": "counter-1"}
    first = move(client, tenant, deal.id, "counter", "800.00", headers=key)
    replay = move(client, tenant, deal.id, "counter", "800.00", headers=key)
    assert first.status_code == replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    other = move(client, tenant, deal.id, "counter", "810.00", headers=key)
    assert other.status_code == 422 and "different request body" in other.json()["detail"]
    assert db.scalar(select(func.count()).select_from(AgentRun).where(AgentRun.tenant_id == tenant.id)) == 1


def test_accepting_the_proposal_wins_the_deal_at_the_list_price_and_signals_the_pipeline(db, client):
    tenant = make_tenant(db)
    pipeline_id = uuid.uuid4()
    deal = deal_in_proposal(db, tenant.id, pipeline_id=pipeline_id)
    response = move(client, tenant, deal.id, "accept", message="Deal.")
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["deal"]["stage"], body["deal"]["amount"], body["run"]) == ("won", "1000.00", None)
    assert (body["round"]["kind"], body["round"]["amount"], body["round"]["round"]) == ("accept", "1000.00", 1)
    db.refresh(deal)
    assert (deal.stage, deal.amount) == ("won", D("1000.0000"))
    assert db.get(Lead, deal.lead_id).status == "won"
    stages = db.scalars(select(AuditLog.after).where(AuditLog.action == "deal.stage",
                                                     AuditLog.entity_id == str(deal.id)).order_by(AuditLog.id)).all()
    assert stages == [{"stage": "negotiation"}, {"stage": "won"}]  # through negotiation, as the life cycle has it
    assert _advance_signals(db, pipeline_id) == 1
    assert history(client, tenant, deal.id)["waiting_for"] is None


def test_accepting_after_our_offers_wins_at_our_latest_offer(db, client):
    tenant = make_tenant(db)
    deal = deal_in_proposal(db, tenant.id)
    assert move(client, tenant, deal.id, "counter", "800.00").status_code == 202
    sent = _offer(db, tenant, deal, "920.00")
    assert sent.status == "sent" and db.get(Deal, deal.id).amount == D("920.00")
    assert move(client, tenant, deal.id, "counter", "850.00").status_code == 202
    assert _offer(db, tenant, deal, "905.00").status == "sent"

    wrong = move(client, tenant, deal.id, "accept", "920.00")
    assert wrong.status_code == 422 and "standing offer of 905.00 EUR" in wrong.json()["detail"]
    accepted = move(client, tenant, deal.id, "accept", "905.00", currency="eur")
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["deal"]["stage"], accepted.json()["deal"]["amount"]) == ("won", "905.00")
    rounds = history(client, tenant, deal.id)["rounds"]
    assert [(r["round"], r["side"], r["kind"], r["amount"], r["status"]) for r in rounds] == [
        (1, "client", "counter", "800.00", "received"), (1, "agent", "offer", "920.00", "sent"),
        (2, "client", "counter", "850.00", "received"), (2, "agent", "offer", "905.00", "sent"),
        (3, "client", "accept", "905.00", "received")]


def test_walking_away_loses_the_deal_and_supersedes_an_offer_still_in_review(db, client):
    tenant = make_tenant(db)
    pipeline_id = uuid.uuid4()
    deal = deal_in_proposal(db, tenant.id, pipeline_id=pipeline_id)
    assert move(client, tenant, deal.id, "counter", "700.00").status_code == 202
    waiting = _offer(db, tenant, deal, "860.00")  # 14 % off: past the 10 % threshold
    assert waiting.status == "pending_review" and waiting.review_id is not None
    assert history(client, tenant, deal.id)["waiting_for"] == "a reviewer to decide our offer of round 1"

    response = move(client, tenant, deal.id, "walk_away", message="We went with someone else.")
    assert response.status_code == 202, response.text
    assert (response.json()["deal"]["stage"], response.json()["round"]["amount"]) == ("lost", None)
    db.refresh(waiting)
    assert waiting.status == "superseded" and db.get(Lead, deal.lead_id).status == "lost"
    assert _advance_signals(db, pipeline_id) == 1

    url = f"/api/v1/reviews/offer/{waiting.id}/decision"
    approve = client.post(url, json={"decision": "approve"}, headers=tenant.headers(Role.reviewer))
    assert approve.status_code == 409 and "walked away" in approve.json()["detail"]
    reject = client.post(url, json={"decision": "reject", "comment": "moot"}, headers=tenant.headers(Role.reviewer))
    assert reject.status_code == 200 and db.get(NegotiationRound, waiting.id).status == "superseded"


def _nothing_changed(db, tenant, deal) -> None:
    db.expire_all()
    assert db.get(Deal, deal.id).stage == "proposal" and db.get(Deal, deal.id).amount == D("1000.0000")
    assert db.scalars(select(NegotiationRound).where(NegotiationRound.deal_id == deal.id)).all() == []
    assert db.scalar(select(func.count()).select_from(AgentRun).where(AgentRun.tenant_id == tenant.id)) == 0


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"kind": "counter"}, 422, "needs an amount"),
    ({"kind": "counter", "amount": 800.5}, 422, "strings"),
    ({"kind": "counter", "amount": "800.005"}, 422, "more decimals than EUR"),
    ({"kind": "counter", "amount": "-5"}, 422, "greater than zero"),
    ({"kind": "counter", "amount": "800.00", "currency": "USD"}, 422, "the deal is in EUR"),
    ({"kind": "counter", "amount": "800.00", "currency": "XYZ"}, 422, "ISO 4217"),
    ({"kind": "counter", "amount": "1000.00"}, 422, "accept it instead"),
    ({"kind": "counter", "amount": "800.00", "terms": {"concessions": ["free_beer"]}}, 422, "Validation failed"),
    ({"kind": "haggle", "amount": "800.00"}, 422, "Validation failed"),
    ({"kind": "accept", "amount": "900.00"}, 422, "standing offer of 1000.00"),
    ({"kind": "walk_away", "amount": "900.00"}, 422, "takes no amount"),
])
def test_bad_moves_are_4xx_and_change_nothing(db, client, body, status, words):
    tenant = make_tenant(db)
    deal = deal_in_proposal(db, tenant.id)
    response = client.post(f"/api/v1/deals/{deal.id}/offers", json=body, headers=tenant.headers(Role.operator))
    assert response.status_code == status, response.text
    assert words in response.text
    _nothing_changed(db, tenant, deal)


def test_no_move_on_a_deal_that_is_over_or_whose_proposal_the_client_never_had(db, client):
    tenant = make_tenant(db)
    unapproved = deal_in_proposal(db, tenant.id, approved=False)
    refused = move(client, tenant, unapproved.id, "counter", "800.00")
    assert refused.status_code == 409 and "not been approved" in refused.json()["detail"]
    _nothing_changed(db, tenant, unapproved)

    won = deal_in_proposal(db, tenant.id, code="other")
    assert move(client, tenant, won.id, "accept").status_code == 202
    for kind, amount in (("counter", "800.00"), ("accept", None), ("walk_away", None)):
        late = move(client, tenant, won.id, kind, amount)
        assert late.status_code == 409 and "won" in late.json()["detail"]
    db.refresh(won)
    assert won.stage == "won"
    assert len(db.scalars(select(NegotiationRound).where(NegotiationRound.deal_id == won.id)).all()) == 1


@pytest.mark.parametrize("role", list(Role))
def test_operators_move_everyone_reads(db, client, role):
    tenant = make_tenant(db)
    deal = deal_in_proposal(db, tenant.id)
    allowed = role in (Role.owner, Role.admin, Role.operator)
    assert move(client, tenant, deal.id, "counter", "800.00", role=role).status_code == (202 if allowed else 403)
    assert len(history(client, tenant, deal.id, role=role)["rounds"]) == (1 if allowed else 0)


def test_another_tenants_deal_is_404(db, client):
    ours, theirs = make_tenant(db), make_tenant(db)
    rebind(db, ours.id)
    deal = deal_in_proposal(db, ours.id)
    for kind, amount in (("counter", "800.00"), ("accept", None), ("walk_away", None)):
        assert move(client, theirs, deal.id, kind, amount, role=Role.owner).status_code == 404
    assert client.get(f"/api/v1/deals/{deal.id}/negotiation", headers=theirs.headers(Role.owner)).status_code == 404
    assert move(client, ours, uuid.uuid4(), "counter", "800.00").status_code == 404
    rebind(db, ours.id)
    _nothing_changed(db, ours, deal)


def test_approving_an_offer_sends_it_with_the_reviewers_message_and_the_price_locked(db, client):
    tenant = make_tenant(db)
    deal = deal_in_proposal(db, tenant.id)
    assert move(client, tenant, deal.id, "counter", "700.00").status_code == 202
    offer = _offer(db, tenant, deal, "860.00")
    review = db.get(Review, offer.review_id)
    assert (review.entity_type, review.agent, review.status) == ("offer", "negotiation", "pending")
    assert (review.proposal["amount"], review.proposal["discount_pct"], review.proposal["client_amount"]) == (
        "860.00", "14.00", "700.00")
    assert [reason["code"] for reason in review.proposal["review_reasons"]] == ["past_threshold"]
    assert "Round 1: 860.00 EUR (14.00 % off list)" in review.summary
    url = f"/api/v1/reviews/offer/{offer.id}/decision"
    reviewer = tenant.headers(Role.reviewer)

    cheaper = client.post(url, json={"decision": "edit", "edited_output": {"amount": "800.00"}}, headers=reviewer)
    assert cheaper.status_code == 422 and "amount" in cheaper.json()["detail"]
    edited = client.post(url, json={"decision": "edit", "edited_output": {"message": "Dear Grace, 860 it is."}},
                         headers=reviewer)
    assert edited.status_code == 200, edited.text
    db.expire_all()
    offer = db.get(NegotiationRound, offer.id)
    assert (offer.status, offer.message) == ("sent", "Dear Grace, 860 it is.")
    assert db.get(Deal, deal.id).amount == D("860.0000")
    negotiation = history(client, tenant, deal.id)
    assert negotiation["standing_offer"] == "860.00" and negotiation["waiting_for"].startswith("the client's answer")
    assert negotiation["rounds"][1]["review_reasons"][0]["code"] == "past_threshold"


def test_a_decision_on_an_expired_offer_review_is_409_and_the_offer_is_never_sent(db, client):
    tenant = make_tenant(db)
    deal = deal_in_proposal(db, tenant.id)
    assert move(client, tenant, deal.id, "counter", "700.00").status_code == 202
    offer = _offer(db, tenant, deal, "860.00")
    review = db.get(Review, offer.review_id)
    review.deadline_at = review.deadline_at.replace(year=2000)
    db.flush()
    assert reviews._handle_deadline(db, TenantContext.system(tenant.id), review.id, "expire") == "expired"
    db.refresh(offer)
    assert offer.status == "refused"
    late = client.post(f"/api/v1/reviews/offer/{offer.id}/decision", json={"decision": "approve"},
                       headers=tenant.headers(Role.reviewer))
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    db.expire_all()
    assert (db.get(NegotiationRound, offer.id).status, db.get(Deal, deal.id).amount) == ("refused", D("1000.0000"))
    # The client's counter-offer stays unanswered: the client may move again.
    assert move(client, tenant, deal.id, "counter", "750.00").status_code == 202
