"""Negotiation: the tenant's price policy, the client's moves on a deal, our offers and their review, and the
history of every round (`negotiation_history`).

- The **policy** is the tenant's default (`package_code` '*') or a package's own; without either the
  built-in one applies (app.negotiation.policy.DEFAULT_POLICY).
- A client's **counter-offer** is recorded as a round and answered by a `negotiation` run (started by name,
  keyed by the deal and round so it is started once); the first one moves the deal from `proposal` to
  `negotiation`. An **acceptance** makes the deal `won` at our standing offer, **walking away** makes it
  `lost`; both signal the deal's pipeline, which moves on from the deal's stage.
- Our **offer** is recorded by the agent's step through `record_offer`: sent at once, or waiting for an
  `offer` review (registered here) whose approval sends it and whose rejection refuses it.

Every writer locks the deal before the rounds (and the lead before the deal, as app.deals does), so a
client's move, the agent's answer and a reviewer's decision are serialised per deal.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core import money
from app.core.context import TenantContext
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.core.scope import scoped
from app.core.signals import advance_pipeline
from app.deals import service as deals
from app.deals.state import DealStage
from app.leads import service as leads
from app.leads.state import LeadStatus, can_transition
from app.models import AgentRun, Deal, Lead, NegotiationPolicy, NegotiationRound
from app.negotiation import policy as rules
from app.negotiation.schemas import (
    CounterToAnswer, DealState, NegotiationOut, OfferAccepted, OfferContent, OfferIn, PolicyIn, PolicyOut, PolicySource,
    RoundOut, RunRef,
)
from app.negotiation.state import OFFER_KIND, WAITING, ClientMove, RoundStatus, Side, transition
from app.price_book import service as price_book
from app.reviews.registry import ReviewKind, register_kind
from app.reviews.service import open_review
from app.runs import service as runs
from app.runs.state import TERMINAL, RunStatus

AGENT = "negotiation"
ENTITY_TYPE = "offer"
TENANT_DEFAULT = "*"
OPEN_STAGES = (DealStage.proposal, DealStage.negotiation)

# --- the policy ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInForce:
    policy: rules.Policy
    source: PolicySource
    package_code: str
    currency: str | None
    updated_at: datetime | None


def _policy(row: NegotiationPolicy) -> rules.Policy:
    return rules.Policy(floor_price=row.floor_price, max_discount_pct=row.max_discount_pct,
                        approval_threshold_pct=row.approval_threshold_pct, max_rounds=row.max_rounds,
                        allowed_concessions=tuple(row.allowed_concessions))


def _code(package_code: str | None) -> str:
    code = (package_code or "").strip().lower()
    return code or TENANT_DEFAULT


def policy_in_force(session: Session, ctx: TenantContext, package_code: str | None) -> PolicyInForce:
    """The package's own policy, else the tenant's default, else the built-in one."""
    code = _code(package_code)
    rows = {row.package_code: row for row in session.scalars(
        scoped(ctx, NegotiationPolicy).where(NegotiationPolicy.package_code.in_({code, TENANT_DEFAULT})))}
    if code in rows and code != TENANT_DEFAULT:
        row, source = rows[code], "package"
    elif TENANT_DEFAULT in rows:
        row, source = rows[TENANT_DEFAULT], "tenant"
    else:
        return PolicyInForce(rules.DEFAULT_POLICY, "built_in", code, None, None)
    currency = None
    if row.floor_price is not None:
        item = price_book.get_by_code(session, ctx, row.package_code)
        currency = item.currency if item is not None else None
    return PolicyInForce(_policy(row), source, code, currency, row.updated_at)


def _overrides(session: Session, ctx: TenantContext) -> list[str]:
    return list(session.scalars(scoped(ctx, NegotiationPolicy).with_only_columns(NegotiationPolicy.package_code)
                                .where(NegotiationPolicy.package_code != TENANT_DEFAULT)
                                .order_by(NegotiationPolicy.package_code)))


def _policy_out(session: Session, ctx: TenantContext, in_force: PolicyInForce) -> PolicyOut:
    policy, currency = in_force.policy, in_force.currency
    floor = policy.floor_price
    if floor is not None and currency is not None:
        floor = money.quantize(floor, currency)
    return PolicyOut(package_code=in_force.package_code, source=in_force.source, floor_price=floor,
                     currency=in_force.currency if policy.floor_price is not None else None,
                     max_discount_pct=policy.max_discount_pct, approval_threshold_pct=policy.approval_threshold_pct,
                     max_rounds=policy.max_rounds, allowed_concessions=list(policy.allowed_concessions),
                     updated_at=in_force.updated_at, overrides=_overrides(session, ctx))


def read_policy(session: Session, ctx: TenantContext, package_code: str | None) -> PolicyOut:
    return _policy_out(session, ctx, policy_in_force(session, ctx, package_code))


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(f"{field}: {message}.", errors=[{"field": field, "message": message, "type": "value"}])


def _audited(session: Session, ctx: TenantContext, row: NegotiationPolicy) -> dict[str, Any]:
    floor = row.floor_price
    if floor is not None:
        item = price_book.get_by_code(session, ctx, row.package_code)
        floor = money.quantize(floor, item.currency) if item is not None else floor
    return {"package_code": row.package_code,
            "floor_price": money.format_amount(floor) if floor is not None else None,
            "max_discount_pct": money.format_amount(row.max_discount_pct.quantize(rules.CENT)),
            "approval_threshold_pct": money.format_amount(row.approval_threshold_pct.quantize(rules.CENT)),
            "max_rounds": row.max_rounds, "allowed_concessions": list(row.allowed_concessions)}


def put_policy(session: Session, ctx: TenantContext, package_code: str | None, body: PolicyIn) -> PolicyOut:
    """Set the tenant's default policy, or a package's own (which must be in the price book). A floor is an
    amount in one currency, so only a package's policy has one (in the package's currency, at most its list
    price)."""
    authorize(ctx, Permission.manage_tenant)
    code = _code(package_code)
    floor = body.floor_price
    if code == TENANT_DEFAULT:
        if floor is not None:
            raise _invalid("floor_price", "a floor is an amount in one currency: set it on a package's policy "
                                          "(PUT /api/v1/policies/negotiation?package_code=…); the default policy "
                                          "bounds every package by its maximum discount")
    else:
        item = price_book.get_by_code(session, ctx, code)
        if item is None:
            raise _invalid("package_code", f"there is no package '{code}' in the price book")
        if body.currency is not None and body.currency != item.currency:
            raise _invalid("currency", f"the package '{code}' is priced in {item.currency}, not {body.currency}")
        if floor is not None:
            floor = money.checked(floor, item.currency, "floor_price")
            list_price = money.quantize(item.list_price, item.currency)
            if floor > list_price:
                raise _invalid("floor_price", f"{money.format_amount(floor)} {item.currency} is above the package's "
                                              f"list price of {money.format_amount(list_price)}")
    values = {"floor_price": floor, "max_discount_pct": body.max_discount_pct,
              "approval_threshold_pct": body.approval_threshold_pct, "max_rounds": body.max_rounds,
              "allowed_concessions": [concession.value for concession in body.allowed_concessions]}
    row = session.scalars(scoped(ctx, NegotiationPolicy).where(NegotiationPolicy.package_code == code)
                          .with_for_update()).one_or_none()
    before = _audited(session, ctx, row) if row is not None else None
    if row is None:
        row = NegotiationPolicy(id=uuid.uuid4(), tenant_id=ctx.tenant_id, package_code=code, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    audit.record(session, ctx, "negotiation_policy.update" if before else "negotiation_policy.create",
                 "negotiation_policy", row.id, before=before, after=_audited(session, ctx, row))
    return read_policy(session, ctx, None if code == TENANT_DEFAULT else code)


def delete_policy(session: Session, ctx: TenantContext, package_code: str | None) -> None:
    """Remove a package's own policy (its deals then follow the default), or the tenant's default (the
    built-in one then applies). 404 when there is none."""
    authorize(ctx, Permission.manage_tenant)
    code = _code(package_code)
    row = session.scalars(scoped(ctx, NegotiationPolicy).where(NegotiationPolicy.package_code == code)
                          .with_for_update()).one_or_none()
    if row is None:
        raise NotFound("The tenant has no default negotiation policy." if code == TENANT_DEFAULT
                       else f"The package '{code}' has no negotiation policy of its own.")
    audit.record(session, ctx, "negotiation_policy.delete", "negotiation_policy", row.id,
                 before=_audited(session, ctx, row))
    session.delete(row)
    session.flush()


# --- the history -------------------------------------------------------------------------------------


def rounds_of(session: Session, ctx: TenantContext, deal_id: uuid.UUID) -> list[NegotiationRound]:
    """Every round of the deal, oldest first, the client's move before our answer."""
    side_order = (NegotiationRound.side == Side.agent.value)
    return list(session.scalars(scoped(ctx, NegotiationRound).where(NegotiationRound.deal_id == deal_id)
                                .order_by(NegotiationRound.round, side_order, NegotiationRound.created_at)))


def sent_offers(rounds: list[NegotiationRound]) -> list[Decimal]:
    return [row.amount for row in rounds if row.side == Side.agent and row.status == RoundStatus.sent
            and row.amount is not None]


def _standing(deal: Deal, rounds: list[NegotiationRound]) -> Decimal:
    return money.quantize(rules.standing_offer(deal.list_price, sent_offers(rounds)), deal.currency)


def _snapshot(session: Session, ctx: TenantContext, deal: Deal) -> dict[str, Any]:
    in_force = policy_in_force(session, ctx, deal.package_code)
    return rules.snapshot(in_force.policy, list_price=deal.list_price, currency=deal.currency, source=in_force.source)


def round_out(row: NegotiationRound) -> RoundOut:
    snap = row.policy or {}
    reasons: list[dict[str, Any]] = []
    discount = None
    if row.amount is not None and snap.get("list_price"):
        list_price = Decimal(snap["list_price"])
        discount = rules.discount_pct(list_price, row.amount)
        if row.side == Side.agent:
            reasons = [reason.as_json() for reason in rules.review_reasons(
                row.amount, list_price=list_price, currency=row.currency, policy=rules.from_snapshot(snap),
                round_number=row.round, clamp_codes=[reason.get("code") for reason in row.clamp_reasons])]
    amount = money.quantize(row.amount, row.currency) if row.amount is not None else None
    model_amount = money.quantize(row.model_amount, row.currency) if row.model_amount is not None else None
    return RoundOut(id=row.id, round=row.round, side=row.side, kind=row.kind, amount=amount, currency=row.currency,
                    discount_pct=discount, terms=row.terms, message=row.message, status=row.status,
                    model_amount=model_amount, clamped=row.clamped, clamp_reasons=row.clamp_reasons,
                    review_reasons=reasons, reasoning=row.reasoning, policy=row.policy, run_id=row.run_id,
                    review_id=row.review_id, created_by_type=row.created_by_type, created_by_id=row.created_by_id,
                    created_at=row.created_at)


def _deal_state(deal: Deal) -> DealState:
    return DealState(id=deal.id, stage=deal.stage, package_code=deal.package_code, currency=deal.currency,
                     list_price=money.quantize(deal.list_price, deal.currency),
                     amount=money.quantize(deal.amount, deal.currency), pipeline_id=deal.pipeline_id)


def _in_flight(session: Session, rounds: list[NegotiationRound]) -> str | None:
    """What our side still owes the client: a reviewer's decision on an offer, or the agent's answer to the
    last counter-offer (a run that ended without one owes nothing: the client may move again)."""
    waiting = [row for row in rounds if row.side == Side.agent and row.status in WAITING]
    if waiting:
        return f"a reviewer to decide our offer of round {waiting[-1].round}"
    clients = [row for row in rounds if row.side == Side.client]
    if not clients or clients[-1].kind != ClientMove.counter:
        return None
    last = clients[-1]
    if any(row.side == Side.agent and row.round == last.round for row in rounds):
        return None
    run = session.get(AgentRun, last.run_id) if last.run_id else None
    if run is not None and RunStatus(run.status) not in TERMINAL:
        return f"the negotiation agent's answer to the counter-offer of round {last.round} (run {run.id}, {run.status})"
    return None


def read_negotiation(session: Session, ctx: TenantContext, deal_id: uuid.UUID) -> NegotiationOut:
    deal = deals.get_deal(session, ctx, deal_id)
    rounds = rounds_of(session, ctx, deal.id)
    standing = _standing(deal, rounds)
    waiting_for = None
    if deal.stage in OPEN_STAGES:
        offer = f"our offer of {money.format_amount(standing)} {deal.currency}"
        waiting_for = _in_flight(session, rounds) or (
            f"the client's answer to {offer}" if sent_offers(rounds) else "the client's answer to the proposal")
    return NegotiationOut(deal=_deal_state(deal),
                          policy=_policy_out(session, ctx, policy_in_force(session, ctx, deal.package_code)),
                          standing_offer=standing, waiting_for=waiting_for, rounds=[round_out(row) for row in rounds])


# --- the client's moves ------------------------------------------------------------------------------


def post_offer(session: Session, ctx: TenantContext, deal_id: uuid.UUID, body: OfferIn) -> OfferAccepted:
    """Record the client's move on the deal: a counter-offer (answered by a negotiation run), an acceptance
    (won at our standing offer) or walking away (lost). 404 for another tenant's deal; 409 for a deal that is
    won or lost, whose proposal was never approved, or (a counter-offer) that still waits for our answer;
    422 for an amount or currency that does not fit. A refused move changes nothing."""
    deal = deals.get_deal(session, ctx, deal_id)
    authorize(ctx, Permission.operate_runs)
    if body.kind is ClientMove.counter:
        deal = _locked(session, ctx, Deal, deal_id)
        _check_open(deal)
        return _counter(session, ctx, deal, body)
    # The lead before its deal, in the order app.deals takes them.
    lead = _locked(session, ctx, Lead, deal.lead_id)
    deal = _locked(session, ctx, Deal, deal_id)
    _check_open(deal)
    return _close(session, ctx, deal, lead, body)


def _locked(session: Session, ctx: TenantContext, model: type[Deal] | type[Lead], entity_id: uuid.UUID) -> Any:
    """The row, locked and read afresh (an object the session loaded before the lock would keep stale values)."""
    found = session.scalars(scoped(ctx, model).where(model.id == entity_id).with_for_update()
                            .execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise NotFound(f"{model.__name__} {entity_id} was not found.")
    return found


def _check_open(deal: Deal) -> None:
    if deal.stage not in OPEN_STAGES:
        raise Conflict(f"The deal is {deal.stage}: its negotiation is over.", deal_stage=deal.stage)
    if deal.proposal is None:
        raise Conflict("The deal's proposal has not been approved by a reviewer yet, so the client has not received "
                       "it: there is nothing to answer.", deal_stage=deal.stage)


def _amount(body: OfferIn, deal: Deal) -> Decimal | None:
    if body.currency is not None and body.currency != deal.currency:
        raise _invalid("currency", f"the deal is in {deal.currency}, not {body.currency}")
    return money.checked(body.amount, deal.currency, "amount") if body.amount is not None else None


def _next_round(rounds: list[NegotiationRound]) -> int:
    return max((row.round for row in rounds), default=0) + 1


def _record_client(session: Session, ctx: TenantContext, deal: Deal, rounds: list[NegotiationRound], body: OfferIn,
                   amount: Decimal | None, run_id: uuid.UUID | None = None) -> NegotiationRound:
    row = NegotiationRound(
        id=uuid.uuid4(), tenant_id=ctx.tenant_id, deal_id=deal.id, round=_next_round(rounds),
        side=Side.client.value, kind=body.kind.value, amount=amount, currency=deal.currency,
        terms=body.terms.model_dump(mode="json"), message=body.message, status=RoundStatus.received.value,
        clamped=False, clamp_reasons=[], policy=_snapshot(session, ctx, deal), run_id=run_id,
        created_by_type=ctx.principal.kind, created_by_id=ctx.principal.id)
    session.add(row)
    session.flush()
    audit.record(session, ctx, f"deal.{body.kind.value}", "deal", deal.id, after={
        "round": row.round, "kind": row.kind, "currency": row.currency,
        "amount": money.format_amount(amount) if amount is not None else None})
    return row


def _counter(session: Session, ctx: TenantContext, deal: Deal, body: OfferIn) -> OfferAccepted:
    amount = _amount(body, deal)
    assert amount is not None  # OfferIn requires it for a counter-offer
    rounds = rounds_of(session, ctx, deal.id)
    owed = _in_flight(session, rounds)
    if owed:
        raise Conflict(f"The client's last move is still being answered: waiting for {owed}.")
    standing = _standing(deal, rounds)
    if amount >= standing:
        raise _invalid("amount", f"{money.format_amount(amount)} {deal.currency} is not below our standing offer of "
                                 f"{money.format_amount(standing)} {deal.currency}: accept it instead (kind 'accept')")
    deals.change_stage(session, ctx, deal, DealStage.negotiation)
    round_number = _next_round(rounds)
    run = runs.create_run(session, ctx, AGENT, {"deal_id": str(deal.id), "round": round_number},
                          pipeline_id=deal.pipeline_id, idempotency_key=f"negotiation:{deal.id}:{round_number}")
    row = _record_client(session, ctx, deal, rounds, body, amount, run_id=run.id)
    return OfferAccepted(deal=_deal_state(deal), round=round_out(row),
                         run=RunRef(id=run.id, status=run.status))


def _close(session: Session, ctx: TenantContext, deal: Deal, lead: Lead, body: OfferIn) -> OfferAccepted:
    """Accept (won at our standing offer) or walk away (lost): the deal passes through `negotiation` if the
    client answers the proposal itself, our offers still waiting for a reviewer are superseded, the lead
    follows the deal, and the deal's pipeline is signalled."""
    amount = _amount(body, deal)
    rounds = rounds_of(session, ctx, deal.id)
    standing = _standing(deal, rounds)
    accepted = body.kind is ClientMove.accept
    if accepted and amount is not None and amount != standing:
        raise _invalid("amount", f"the client can accept our standing offer of {money.format_amount(standing)} "
                                 f"{deal.currency}, not {money.format_amount(amount)}: post a counter-offer instead")
    deals.change_stage(session, ctx, deal, DealStage.negotiation)
    deals.change_stage(session, ctx, deal, DealStage.won if accepted else DealStage.lost)
    if accepted:
        _set_amount(session, ctx, deal, standing)
    for row in rounds:
        if row.side == Side.agent and row.status in WAITING:
            transition(row, RoundStatus.superseded)
    target = LeadStatus.won if accepted else LeadStatus.lost
    if can_transition(LeadStatus(lead.status), target):
        leads.change_status(session, ctx, lead, target)
    row = _record_client(session, ctx, deal, rounds, body, standing if accepted else None)
    advance_pipeline(session, ctx.tenant_id, deal.pipeline_id)
    return OfferAccepted(deal=_deal_state(deal), round=round_out(row), run=None)


def _set_amount(session: Session, ctx: TenantContext, deal: Deal, amount: Decimal) -> None:
    """The deal's amount is our standing offer: what the client would sign for now."""
    before = money.quantize(deal.amount, deal.currency)
    if before == amount:
        return
    deal.amount = amount
    session.flush()
    audit.record(session, ctx, "deal.amount", "deal", deal.id, before={"amount": money.format_amount(before)},
                 after={"amount": money.format_amount(amount)})


# --- our offers (the negotiation agent's steps) ------------------------------------------------------


def counter_to_answer(session: Session, ctx: TenantContext, deal_id: uuid.UUID, round_number: int) -> CounterToAnswer:
    """The client's counter-offer of `round_number` and what answering it depends on: the deal, the offers
    the client has seen, the policy in force. 404 if the deal or the round is missing; 409 if the deal is won
    or lost, or the round was answered already."""
    deal = deals.get_deal(session, ctx, deal_id)
    if deal.stage != DealStage.negotiation:
        raise Conflict(f"The deal is {deal.stage}: there is no counter-offer to answer.")
    rounds = rounds_of(session, ctx, deal.id)
    counter = next((row for row in rounds if row.round == round_number and row.side == Side.client
                    and row.kind == ClientMove.counter), None)
    if counter is None or counter.amount is None:
        raise NotFound(f"The deal has no counter-offer in round {round_number}.")
    if any(row.round == round_number and row.side == Side.agent for row in rounds):
        raise Conflict(f"The counter-offer of round {round_number} was answered already.")
    lead = leads.get_lead(session, ctx, deal.lead_id)
    item = price_book.get_by_code(session, ctx, deal.package_code)
    seen = [row for row in rounds if row.round < round_number
            and (row.side == Side.client or row.status == RoundStatus.sent)]
    return CounterToAnswer(
        deal_id=deal.id, round=round_number, pipeline_id=deal.pipeline_id, client_name=lead.name,
        client_company=lead.company, package_code=deal.package_code,
        package_name=item.name if item else deal.package_code,
        billing_period=(deal.proposal or {}).get("billing_period") or (item.billing_period if item else None),
        currency=deal.currency, list_price=money.quantize(deal.list_price, deal.currency),
        standing_offer=_standing(deal, [row for row in rounds if row.round < round_number]),
        sent_offers=[money.quantize(amount, deal.currency) for amount in sent_offers(rounds)],
        client_amount=money.quantize(counter.amount, deal.currency), client_terms=counter.terms,
        client_message=counter.message,
        history=[{"round": row.round, "side": row.side, "kind": row.kind,
                  "amount": money.format_amount(money.quantize(row.amount, row.currency)) if row.amount is not None
                  else None, "terms": row.terms, "message": row.message} for row in seen],
        policy=_snapshot(session, ctx, deal))


@dataclass(frozen=True)
class OurOffer:
    """An answer as the agent settled it, to be recorded."""

    deal_id: uuid.UUID
    round: int
    settled: rules.SettledOffer
    model_amount: Decimal | None
    message: str
    reasoning: str
    policy: dict[str, Any]
    run_id: uuid.UUID | None
    requested_by_type: str = "system"
    requested_by_id: uuid.UUID | None = None


def record_offer(session: Session, ctx: TenantContext, offer: OurOffer) -> NegotiationRound:
    """Our answer to the client's counter-offer of `offer.round`, in one transaction: the round, and either
    the deal's new standing offer (sent) or the `offer` review it waits for. Recording the same round again
    returns the row recorded first. 409 if the deal was won or lost meanwhile, or the offer is not below our
    standing offer (unless it restates it as final, which always waits for a reviewer)."""
    deal = _locked(session, ctx, Deal, offer.deal_id)
    rounds = rounds_of(session, ctx, deal.id)
    recorded = next((row for row in rounds if row.round == offer.round and row.side == Side.agent), None)
    if recorded is not None:
        return recorded
    if deal.stage != DealStage.negotiation:
        raise Conflict(f"The deal was {deal.stage} meanwhile: the counter-offer of round {offer.round} needs no "
                       "answer.")
    settled = offer.settled
    standing = _standing(deal, rounds)
    if settled.status == "sent" and settled.amount >= standing:
        raise Conflict(f"An offer of {money.format_amount(settled.amount)} {deal.currency} is not below our standing "
                       f"offer of {money.format_amount(standing)}: concessions only move one way.")
    row = NegotiationRound(
        id=uuid.uuid4(), tenant_id=ctx.tenant_id, deal_id=deal.id, round=offer.round, side=Side.agent.value,
        kind=OFFER_KIND, amount=settled.amount, currency=deal.currency,
        terms={"concessions": list(settled.concessions), "final": settled.final}, message=offer.message,
        status=settled.status, model_amount=offer.model_amount, clamped=settled.clamped,
        clamp_reasons=[reason.as_json() for reason in settled.clamp_reasons], reasoning=offer.reasoning,
        policy=offer.policy, run_id=offer.run_id, created_by_type="agent", created_by_id=None)
    session.add(row)
    session.flush()
    if settled.status == "sent":
        _set_amount(session, ctx, deal, settled.amount)
        return row
    client = next(r for r in rounds if r.round == offer.round and r.side == Side.client)
    client_amount = money.quantize(client.amount, deal.currency)
    content = OfferContent(
        deal_id=deal.id, round=offer.round, amount=settled.amount, currency=deal.currency,
        list_price=money.quantize(deal.list_price, deal.currency),
        discount_pct=rules.discount_pct(deal.list_price, settled.amount), concessions=list(settled.concessions),
        final=settled.final, client_amount=client_amount, message=offer.message, reasoning=offer.reasoning,
        clamp_reasons=[reason.as_json() for reason in settled.clamp_reasons],
        review_reasons=[reason.as_json() for reason in settled.review_reasons])
    why = "; ".join(reason.detail for reason in settled.review_reasons)
    review = open_review(
        session, ctx, entity_type=ENTITY_TYPE, entity_id=row.id, agent=AGENT, proposal=content.model_dump(mode="json"),
        citations=[{"source": "negotiation_policy", **offer.policy},
                   {"source": "counter_offer", "round": offer.round, "amount": money.format_amount(client_amount),
                    "currency": deal.currency}],
        summary=f"Round {offer.round}: {money.format_amount(settled.amount)} {deal.currency} "
                f"({content.discount_pct} % off list) — {why}",
        run_id=offer.run_id, pipeline_id=deal.pipeline_id, requested_by_type=offer.requested_by_type,
        requested_by_id=offer.requested_by_id)
    row.review_id = review.id
    session.flush()
    return row


# --- the `offer` review ------------------------------------------------------------------------------


def _locked_offer(session: Session, ctx: TenantContext, offer_id: uuid.UUID) -> tuple[Deal, NegotiationRound]:
    """Our offer and its deal, both locked: the deal first, as every writer of a negotiation takes them."""
    found = session.scalar(scoped(ctx, NegotiationRound).with_only_columns(NegotiationRound.deal_id)
                           .where(NegotiationRound.id == offer_id, NegotiationRound.side == Side.agent.value))
    if found is None:
        raise NotFound(f"Offer {offer_id} was not found.")
    deal = _locked(session, ctx, Deal, found)
    row = session.scalars(scoped(ctx, NegotiationRound).where(NegotiationRound.id == offer_id).with_for_update()
                          .execution_options(populate_existing=True)).one()
    return deal, row


def send_approved_offer(session: Session, ctx: TenantContext, offer_id: uuid.UUID, content: dict[str, Any]) -> None:
    """A reviewer approved our offer (its message possibly edited): it is sent, and becomes the deal's
    standing offer. Approving it again changes nothing; an offer superseded by the client's acceptance or
    walking away, or a deal that is over, is a 409 (reject the review to close it)."""
    deal, row = _locked_offer(session, ctx, offer_id)
    if row.status == RoundStatus.sent:
        return
    if row.status == RoundStatus.superseded:
        raise Conflict(f"The client {('accepted' if deal.stage == DealStage.won else 'walked away')} meanwhile: this "
                       "offer was superseded and cannot be sent; reject the review to close it.")
    if deal.stage != DealStage.negotiation:
        raise Conflict(f"The deal is {deal.stage}: the offer cannot be sent.")
    final = bool((row.terms or {}).get("final"))
    standing = _standing(deal, rounds_of(session, ctx, deal.id))
    if not final and row.amount >= standing:
        raise Conflict(f"The offer of {money.format_amount(row.amount)} {deal.currency} is no longer below our "
                       f"standing offer of {money.format_amount(standing)}.")
    transition(row, RoundStatus.sent)
    row.message = OfferContent.model_validate(content).message
    session.flush()
    if not final:
        _set_amount(session, ctx, deal, money.quantize(row.amount, deal.currency))


def refuse_offer(session: Session, ctx: TenantContext, offer_id: uuid.UUID, reason: str) -> None:
    """The offer's review was rejected, expired or cancelled: the offer is refused, never sent (one that was
    superseded meanwhile stays so). The client's counter-offer then stays unanswered: the client may move again."""
    _, row = _locked_offer(session, ctx, offer_id)
    if row.status in WAITING:
        transition(row, RoundStatus.refused)
        session.flush()


OFFER_REVIEW = register_kind(ReviewKind(
    entity_type=ENTITY_TYPE, content_model=OfferContent, apply=send_approved_offer, discard=refuse_offer,
    locked_fields=frozenset(OfferContent.model_fields) - {"message"}))
