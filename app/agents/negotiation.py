"""`negotiation`: answers a client's counter-offer on a deal, within the tenant's price policy.

    load ─► propose (model) ─► record_offer

- **load**: the client's counter-offer of the round, the deal (list price, our standing offer, the offers the
  client has seen), the policy in force (the package's own, else the tenant's default, else the built-in
  one), the tenant's name and where the run came from. A deal that is won or lost, a missing round, or a
  round answered already, is a permanent error.
- **propose**: the model proposes a price, the concessions it asks in exchange, a message to the client
  (stating no amount) and its reasoning for the reviewer.
- Then CODE settles the offer, whatever the model returned (`app.negotiation.policy.settle_offer`): never
  below the floor, never past the maximum discount, never below the client's own counter-offer, always below
  our standing offer (never back up, never the same offer twice), only allowed concessions; every change is
  recorded as a clamp reason. A price below the floor is refused: clamped and escalated to a reviewer, never
  sent alone; so are rounds past the policy's last and answers with no room left. Past the approval
  threshold, or in the last round, the offer waits for a reviewer; otherwise it is sent at once. The
  message keeps the model's words without the sentences that state an amount, and ends with code's price
  line.
- **record_offer**: our round in `negotiation_history` and either the deal's new standing offer or the
  `offer` review (amount and terms locked, message editable), in one transaction (app.negotiation).

With the offline provider, the prompt is answered by the rules at the end of this file.
"""

import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from sqlalchemy.orm import Session

from app.agents import facts
from app.agents.base import Agent, RunContext
from app.agents.records import RunOrigin, business_errors, run_origin, tenant_facts
from app.agents.registry import register
from app.agents.sales import stated_amounts
from app.core import money
from app.core.money import Amount
from app.llm.orchestrator import Generation, generate
from app.llm.providers.offline import register_answerer
from app.negotiation import policy as rules
from app.negotiation import service as negotiation
from app.negotiation.policy import Concession
from app.negotiation.schemas import CounterToAnswer

AGENT_NAME = "negotiation"
COUNTER_PROMPT = "negotiation.counter"

# --- the model's answer and the guardrails on it ---------------------------------------------------------


def _price(value: Any) -> Decimal:
    """Models write prices as numbers as often as strings: a float is read through its shortest repr."""
    return money.parse_amount(repr(value) if isinstance(value, float) else value)


ModelPrice = Annotated[
    Decimal,
    BeforeValidator(_price),
    PlainSerializer(money.format_amount, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,14}(\.\d{1,4})?$", "examples": ["1075.00"]}),
]


class CounterAnswer(BaseModel):
    amount: ModelPrice = Field(description="Our new price per billing period, in the deal's currency")
    concessions: list[str] = Field(default_factory=list, max_length=3,
                                   description="What we ask in exchange, from the policy's allowed_concessions")
    message: str = Field(min_length=1, max_length=1500,
                         description="To the client, stating no amount: the system appends the price line")
    reasoning: str = Field(min_length=1, max_length=1000, description="Why this price and concession, for the reviewer")


def concession_issues(answer: CounterAnswer, allowed: tuple[str, ...]) -> list[str]:
    _, dropped = rules.allowed_concessions(answer.concessions, allowed)
    return [f"'{name}' is not an allowed concession; choose among: {', '.join(allowed) or 'none'}" for name in dropped]


def amounts_in(text: str, prices: set[Decimal]) -> set[Decimal]:
    """The amounts of money `text` states: a number next to a currency sign or code, or any of this
    negotiation's prices written bare ("we can do 1075")."""
    return stated_amounts(text) | (facts.numbers_in(text) & prices)


def message_issues(answer: CounterAnswer, prices: set[Decimal]) -> list[str]:
    stated = sorted(amounts_in(answer.message, prices | {answer.amount.normalize()}))
    return [f"the message states {money.format_amount(amount)}: state no amount of money, the system appends our "
            "price line" for amount in stated]


def without_amounts(text: str, prices: set[Decimal]) -> tuple[str, list[str]]:
    """`text` without the sentences that state an amount of money, and those sentences."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    dropped = [sentence for sentence in sentences if amounts_in(sentence, prices)]
    return " ".join(sentence for sentence in sentences if sentence not in dropped), dropped


PERIODS = {"monthly": " per month", "quarterly": " per quarter", "yearly": " per year", "one_time": " (one-time)"}
CONCESSION_TERMS = {Concession.longer_term: "with a longer commitment term",
                    Concession.upfront_payment: "paid upfront for the term",
                    Concession.smaller_scope: "for a reduced scope"}


def price_line(amount: Decimal, currency: str, billing_period: str | None, concessions: tuple[str, ...],
               final: bool) -> str:
    """The sentence that states our offer: written by code, from the settled numbers."""
    price = f"{money.format_amount(amount)} {currency}{PERIODS.get(billing_period or '', '')}"
    terms = " and ".join(CONCESSION_TERMS[Concession(name)] for name in concessions)
    terms = f", {terms}" if terms else ""
    if final:
        return f"Our offer of {price}{terms} stands: it is our final offer."
    return f"Our offer: {price}{terms}."


# --- the run -------------------------------------------------------------------------------------------


class NegotiationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deal_id: uuid.UUID
    round: int = Field(ge=1, description="The round of the client's counter-offer to answer")


class Loaded(BaseModel):
    counter: CounterToAnswer
    company: str
    origin: RunOrigin


class OfferRecorded(BaseModel):
    offer_id: uuid.UUID
    status: str
    review_id: uuid.UUID | None


class NegotiationOutput(BaseModel):
    deal_id: uuid.UUID
    round: int
    offer_id: uuid.UUID
    status: Literal["sent", "pending_review", "escalated"] = Field(
        description="sent: the client has it; pending_review: past the threshold or the last round; escalated: "
                    "code refused the model's price, the rounds ran out, or no lower offer was possible")
    amount: Amount = Field(description="Our offer as code settled it, a string")
    currency: str
    list_price: Amount
    discount_pct: str = Field(description="Off the list price, in percent")
    client_amount: Amount
    concessions: list[str]
    final: bool = Field(description="No lower offer was possible: our standing offer restated as final")
    message: str
    model_amount: Amount = Field(description="What the model proposed")
    clamped: bool
    clamp_reasons: list[dict[str, str]]
    review_reasons: list[dict[str, str]]
    review_id: uuid.UUID | None
    reasoning: str
    dropped: list[str] = Field(description="Sentences of the model's message left out because they stated an amount")
    offline: bool
    confidence: float


def _load(session: Session, ctx: RunContext, payload: NegotiationInput) -> dict[str, Any]:
    with business_errors():
        counter = negotiation.counter_to_answer(session, ctx.context, payload.deal_id, payload.round)
    return Loaded(counter=counter, company=tenant_facts(session, ctx.tenant_id).name,
                  origin=run_origin(session, ctx.run_id)).model_dump(mode="json")


def _variables(loaded: Loaded) -> dict[str, Any]:
    counter, policy = loaded.counter, loaded.counter.policy
    return {
        "company": loaded.company,
        "deal": {"client": counter.client_name, "company": counter.client_company, "package": counter.package_name,
                 "billing_period": counter.billing_period, "currency": counter.currency,
                 "list_price": money.format_amount(counter.list_price),
                 "standing_offer": money.format_amount(counter.standing_offer)},
        "policy": {**{key: policy[key] for key in ("lowest_price", "floor_price", "max_discount_pct",
                                                   "approval_threshold_pct", "max_rounds", "allowed_concessions")},
                   "round": counter.round, "rounds_left": max(policy["max_rounds"] - counter.round, 0)},
        "history": counter.history,
        "counter_offer": {"round": counter.round, "amount": money.format_amount(counter.client_amount),
                          "currency": counter.currency, "terms": counter.client_terms,
                          "message": counter.client_message},
    }


def _prices(counter: CounterToAnswer) -> set[Decimal]:
    return {amount.normalize() for amount in (counter.list_price, counter.standing_offer, counter.client_amount,
                                              *counter.sent_offers)}


def settle(answer: CounterAnswer, counter: CounterToAnswer) -> tuple[rules.SettledOffer, str, list[str]]:
    """Code's offer from the model's answer: the price and concessions held to the policy, and the message
    without sentences that state an amount, ending with code's price line."""
    settled = rules.settle_offer(
        answer.amount, proposed_concessions=answer.concessions, list_price=counter.list_price,
        currency=counter.currency, policy=rules.from_snapshot(counter.policy), sent_offers=counter.sent_offers,
        client_amount=counter.client_amount, round_number=counter.round)
    words, dropped = without_amounts(answer.message, _prices(counter) | {answer.amount.normalize()})
    words = words or _offline_answer(counter, "").message
    line = price_line(settled.amount, counter.currency, counter.billing_period, settled.concessions, settled.final)
    return settled, f"{words}\n\n{line}", dropped


def _record(session: Session, ctx: RunContext, loaded: Loaded, settled: rules.SettledOffer, model_amount: Decimal,
            message: str, reasoning: str) -> dict[str, Any]:
    counter = loaded.counter
    with business_errors():
        row = negotiation.record_offer(session, ctx.context, negotiation.OurOffer(
            deal_id=counter.deal_id, round=counter.round, settled=settled,
            model_amount=money.quantize(model_amount, counter.currency),
            message=message, reasoning=reasoning, policy=counter.policy, run_id=ctx.run_id,
            requested_by_type=loaded.origin.requested_by_type, requested_by_id=loaded.origin.requested_by_id))
    return OfferRecorded(offer_id=row.id, status=row.status, review_id=row.review_id).model_dump(mode="json")


class NegotiationAgent(Agent[NegotiationInput, NegotiationOutput]):
    name = AGENT_NAME
    input_model = NegotiationInput
    output_model = NegotiationOutput
    uses_models = True
    prompt_keys = (COUNTER_PROMPT,)
    description = ("Answers a client's counter-offer on a deal within the tenant's price policy, enforced in code; "
                   "offers past the approval threshold, in the last round or refused in code wait for a reviewer.")

    def run(self, ctx: RunContext, payload: NegotiationInput) -> NegotiationOutput:
        loaded = Loaded.model_validate(ctx.step("load", lambda session: _load(session, ctx, payload)))
        counter = loaded.counter
        allowed = tuple(counter.policy["allowed_concessions"])
        prices = _prices(counter)
        proposed: Generation[CounterAnswer] = generate(
            ctx, step="propose", prompt_key=COUNTER_PROMPT, output_model=CounterAnswer, variables=_variables(loaded),
            validators=[lambda answer: concession_issues(answer, allowed),
                        lambda answer: message_issues(answer, prices)])
        answer = proposed.output
        settled, message, dropped = settle(answer, counter)
        recorded = OfferRecorded.model_validate(ctx.step("record_offer", lambda session: _record(
            session, ctx, loaded, settled, answer.amount, message, answer.reasoning)))
        return NegotiationOutput(
            deal_id=counter.deal_id, round=counter.round, offer_id=recorded.offer_id, status=settled.status,
            amount=settled.amount, currency=counter.currency, list_price=counter.list_price,
            discount_pct=money.format_amount(rules.discount_pct(counter.list_price, settled.amount)),
            client_amount=counter.client_amount, concessions=list(settled.concessions), final=settled.final,
            message=message, model_amount=answer.amount, clamped=settled.clamped,
            clamp_reasons=[reason.as_json() for reason in settled.clamp_reasons],
            review_reasons=[reason.as_json() for reason in settled.review_reasons], review_id=recorded.review_id,
            reasoning=answer.reasoning, dropped=dropped, offline=proposed.offline, confidence=proposed.confidence)

    def needs_review(self, output: NegotiationOutput) -> bool:
        return output.status != "sent"


register(NegotiationAgent())


# --- offline answer: a negotiator's rules, without a model ----------------------------------------------

# Which concession we ask for first, second, third (when the client offered none the policy allows).
ASKING_ORDER = (Concession.upfront_payment, Concession.longer_term, Concession.smaller_scope)
ASKING = {Concession.upfront_payment: "if you can pay upfront for the term",
          Concession.longer_term: "if you can commit to a longer term",
          Concession.smaller_scope: "if we narrow the scope a little"}
TAKING_UP = {Concession.upfront_payment: "in exchange for the upfront payment you offered",
             Concession.longer_term: "in exchange for the longer commitment you offered",
             Concession.smaller_scope: "with the reduced scope you suggested"}


def _concession(counter: CounterToAnswer, allowed: tuple[str, ...]) -> tuple[Concession | None, bool]:
    """The concession to ask for, and whether the client offered it themselves."""
    offered = [Concession(name) for name in counter.client_terms.get("concessions") or [] if name in allowed]
    if offered:
        return offered[0], True
    choices = [concession for concession in ASKING_ORDER if concession in allowed]
    return (choices[(counter.round - 1) % len(choices)], False) if choices else (None, False)


def _offline_answer(counter: CounterToAnswer, company: str) -> CounterAnswer:
    """Meet the client halfway between our standing offer and their counter-offer, never past the policy's
    maximum discount; ask for one allowed concession (the one the client offered, if any).

    Like a model that keeps to the discount it was told and overlooks a package's floor, it does not look at
    the floor: holding that line is code's job (app.negotiation.policy refuses the answer, raises it to the
    floor and sends it to a reviewer), and the demo shows it happen."""
    currency, policy = counter.currency, counter.policy
    lowest = _discount_bound(counter.list_price, currency, policy)
    standing, asked = counter.standing_offer, counter.client_amount
    halfway = money.quantize(standing - (standing - asked) / 2, currency)
    amount = max(halfway, lowest)
    concession, offered = _concession(counter, tuple(policy["allowed_concessions"]))
    first_name = counter.client_name.split()[0] if counter.client_name.strip() else "there"
    who = counter.client_company or "your team"
    exchange = (TAKING_UP if offered else ASKING)[concession] if concession else ""
    if amount >= standing:
        move = f"We have already made our best offer for {counter.package_name}, and it remains open"
    elif amount == lowest and halfway < lowest:
        move = f"We have gone as far as our pricing for {counter.package_name} allows"
    else:
        move = f"We cannot go as low as you asked for {counter.package_name}, but we can meet you partway"
    message = (f"Thank you for your counter-offer, {first_name}. {move}{' ' + exchange if exchange else ''}. "
               f"We would be glad to get {who} started.")
    pct = rules.discount_pct(counter.list_price, amount)
    reasoning = (f"The client asked {money.format_amount(asked)} {currency} against our standing offer of "
                 f"{money.format_amount(standing)}; halfway is {money.format_amount(halfway)}"
                 + (f", below the policy's lowest price of {money.format_amount(lowest)}, so we hold there"
                    if halfway < lowest else "")
                 + f": {money.format_amount(amount)} ({pct} % off list)"
                 + (f", {'taking up' if offered else 'asking for'} {concession.value.replace('_', ' ')}." if concession
                    else ".")
                 + (f" Offered on behalf of {company}." if company else ""))
    return CounterAnswer(amount=amount, concessions=[concession.value] if concession else [], message=message,
                         reasoning=reasoning[:1000])


def _discount_bound(list_price: Decimal, currency: str, policy: dict[str, Any]) -> Decimal:
    """The lowest price the maximum discount allows (the prompt's lowest price when it names no discount)."""
    if policy.get("max_discount_pct") is None:
        return Decimal(policy["lowest_price"])
    without_floor = rules.Policy(None, Decimal(policy["max_discount_pct"]), Decimal(0), 1, ())
    return rules.lowest_price(list_price, currency, without_floor)


def answer_counter_offline(variables: dict[str, Any]) -> CounterAnswer | None:
    """negotiation.counter by rules, from the prompt's variables."""
    deal, policy, counter = variables.get("deal"), variables.get("policy"), variables.get("counter_offer")
    if not isinstance(deal, dict) or not isinstance(policy, dict) or not isinstance(counter, dict):
        return None
    try:
        view = CounterToAnswer(
            deal_id=uuid.UUID(int=0), round=int(policy.get("round") or counter.get("round") or 1), pipeline_id=None,
            client_name=str(deal.get("client") or ""), client_company=deal.get("company"),
            package_code="", package_name=str(deal.get("package") or "the package"),
            billing_period=deal.get("billing_period"), currency=deal["currency"], list_price=deal["list_price"],
            standing_offer=deal["standing_offer"], sent_offers=[], client_amount=counter["amount"],
            client_terms=counter.get("terms") or {}, client_message=str(counter.get("message") or ""), history=[],
            policy={"lowest_price": policy["lowest_price"], "max_discount_pct": policy.get("max_discount_pct"),
                    "allowed_concessions": list(policy.get("allowed_concessions") or [])})
    except (KeyError, TypeError, ValueError):
        return None
    return _offline_answer(view, str(variables.get("company") or ""))


register_answerer(COUNTER_PROMPT, CounterAnswer, answer_counter_offline)
