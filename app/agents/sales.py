"""`sales`: turns a qualified, contacted lead into a proposal priced from the price book, and its deal.

    load ─► propose (model) ─► open_proposal_review

- **load**: the lead (missing, or not `contacted` / `proposal`, is a permanent error), the active price
  book (empty is a permanent error), the tenant's name and where the run came from.
- **propose**: the model picks one package by its code and writes the proposal: summary, scope, next
  steps. It is shown the price book but never asked for a price.
- Then CODE decides what the proposal is: the package is the model's if its code is an active item (one
  repair attempt otherwise), else the size rule's (`package_for_size`); the **price and currency are the
  price book's**, whatever the model wrote; sentences of the text that state another amount are dropped.
- **open_proposal_review**: the deal in stage `proposal` (created or updated, its price copied from the
  book by app.deals) and its `proposal` review (price, currency and package locked), in one transaction.
  Approving it stores the proposal on the deal and moves the lead to `proposal` (app.deals.service).

With the offline provider, the prompt is answered by the rules at the end of this file.
"""

import re
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.agents import facts
from app.agents.base import Agent, RunContext
from app.agents.records import RunOrigin, business_errors, lead_facts, load_lead, run_origin, tenant_facts
from app.agents.registry import register
from app.core import money
from app.core.context import TenantContext
from app.core.money import Amount, Currency
from app.deals import service as deals
from app.leads.state import LeadStatus
from app.llm.orchestrator import Generation, generate
from app.llm.providers.offline import register_answerer
from app.models import PriceBookItem
from app.price_book import service as price_book
from app.reviews.registry import ReviewKind, register_kind
from app.reviews.service import open_review
from app.runs.errors import PermanentError

AGENT_NAME = "sales"
PROPOSAL_PROMPT = "sales.proposal"
REVIEW_ENTITY = "proposal"
# A lead gets a proposal once its first email went out; a lead already in `proposal` gets a new one (its
# deal is updated while still in stage proposal).
ELIGIBLE = (LeadStatus.contacted, LeadStatus.proposal)


class Package(BaseModel):
    """A price book item as the agent and its prompt see it."""

    code: str
    name: str
    description: str
    list_price: Amount
    currency: Currency
    billing_period: str

    @classmethod
    def of(cls, item: PriceBookItem) -> "Package":
        return cls(code=item.code, name=item.name, description=item.description,
                   list_price=money.quantize(item.list_price, item.currency), currency=item.currency,
                   billing_period=item.billing_period)


# --- the model's answer and the guardrails on it ---------------------------------------------------------


class ProposalAnswer(BaseModel):
    package_code: str = Field(description="The code of exactly one package of the price book")
    summary: str = Field(min_length=1, max_length=1200, description="What we propose and why, for the buyer")
    scope: list[str] = Field(min_length=1, max_length=10, description="What the package covers for this client")
    next_steps: list[str] = Field(min_length=1, max_length=6, description="Each with its owner (us or the client)")
    rationale: str = Field("", max_length=600, description="Why this package, for the reviewer")


def find_package(code: str | None, packages: list[Package]) -> Package | None:
    wanted = (code or "").strip().lower()
    return next((package for package in packages if package.code == wanted), None)


def package_issues(answer: ProposalAnswer, packages: list[Package]) -> list[str]:
    """The package must be an active item of the price book, named by its code."""
    if find_package(answer.package_code, packages) is not None:
        return []
    return [f"'{answer.package_code}' is not the code of an active price book package; choose one of: "
            f"{', '.join(package.code for package in packages)}"]


_CURRENCY_MARK = r"[$€£¥]|\b(?:" + "|".join(sorted(money.MINOR_UNITS)) + r")\b"
_AMOUNT = re.compile(rf"(?:{_CURRENCY_MARK})\s?\d[\d.,]*|\d[\d.,]*\s?(?:{_CURRENCY_MARK})")


def stated_amounts(text: str) -> set[Decimal]:
    """The amounts of money `text` states: a number next to a currency sign or code."""
    return {number for match in _AMOUNT.finditer(text) for number in facts.numbers_in(match.group())}


def _other_amounts(text: str, price: Decimal) -> set[Decimal]:
    return stated_amounts(text) - {price.normalize()}


def price_issues(answer: ProposalAnswer, packages: list[Package]) -> list[str]:
    """The text states no amount of money other than the chosen package's list price: the price is the
    price book's, and the proposal carries it in its own field."""
    package = find_package(answer.package_code, packages)
    if package is None:
        return []
    price = package.list_price
    texts = [answer.summary, *answer.scope, *answer.next_steps]
    stated = sorted({amount for text in texts for amount in _other_amounts(text, price)})
    return [f"the proposal states {format(amount, 'f')}, but the price is the price book's "
            f"{money.format_amount(price)} {package.currency} and is added by the system: state no other amount"
            for amount in stated]


def without_other_amounts(text: str, price: Decimal) -> tuple[str, list[str]]:
    """`text` without the sentences that state an amount other than `price`, and those sentences."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    dropped = [sentence for sentence in sentences if _other_amounts(sentence, price)]
    if not dropped:
        return text, []
    return " ".join(sentence for sentence in sentences if sentence not in dropped), dropped


# --- the package rule (code's choice when the model's is unusable, and the offline answer) ---------------

_ADD_ON = re.compile(r"add-?on|extra|top-?up", re.IGNORECASE)
SMALL_COMPANY, LARGE_COMPANY = 50, 250


def package_for_size(company_size: int | None, packages: list[Package]) -> tuple[Package, str]:
    """The package for a company of `company_size` employees, and why.

    A package whose description states a size range that holds the company wins. Otherwise packages (add-ons
    left aside when there are others) are ranked by list price and the company's size picks the rank: under
    50 employees the cheapest, 250 or more the dearest, in between (or unknown) the middle one."""
    if not packages:
        raise ValueError("no packages to choose from")
    main = [package for package in packages if not _ADD_ON.search(f"{package.name} {package.code}")] or packages
    ranked = sorted(main, key=lambda package: (package.list_price, package.code))
    if company_size is not None:
        for package in ranked:
            bounds = facts.size_range(package.description)
            if bounds is not None and facts.in_range(company_size, bounds):
                return package, f"its description is for {facts.describe_range(bounds)} employees"
    middle = ranked[(len(ranked) - 1) // 2]
    if company_size is None:
        return middle, "the company's size is unknown, so the middle of the price book"
    if company_size < SMALL_COMPANY:
        return ranked[0], f"under {SMALL_COMPANY} employees, so the entry package"
    if company_size >= LARGE_COMPANY:
        return ranked[-1], f"{LARGE_COMPANY} employees or more, so the largest package"
    return middle, f"{SMALL_COMPANY} to {LARGE_COMPANY - 1} employees, so the middle of the price book"


# --- the proposal under review -----------------------------------------------------------------------


class ProposalContent(BaseModel):
    """What a reviewer sees and may edit in a `proposal` review; package, price and currency are locked."""

    model_config = ConfigDict(extra="forbid")

    package_code: str
    price: Amount
    currency: Currency
    billing_period: str
    summary: str = Field(min_length=1, max_length=2000)
    scope: list[str] = Field(min_length=1, max_length=20)
    next_steps: list[str] = Field(min_length=1, max_length=10)


def apply_approved_proposal(session: Session, ctx: TenantContext, deal_id: uuid.UUID, content: dict[str, Any]) -> None:
    deals.apply_proposal(session, ctx, deal_id, content)


def leave_deal_unapplied(session: Session, ctx: TenantContext, deal_id: uuid.UUID, reason: str) -> None:
    """A rejected, expired or cancelled proposal changes nothing: the deal stays in `proposal` without an
    approved proposal (`deal.proposal` is null), and a new sales run may propose again."""


PROPOSAL_REVIEW = register_kind(ReviewKind(
    entity_type=REVIEW_ENTITY, content_model=ProposalContent, apply=apply_approved_proposal,
    discard=leave_deal_unapplied, locked_fields=frozenset({"package_code", "price", "currency", "billing_period"})))


# --- the run -------------------------------------------------------------------------------------------


class SalesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: uuid.UUID


class Loaded(BaseModel):
    lead_id: uuid.UUID
    lead: dict[str, Any]
    qualification: dict[str, Any]
    company: str
    packages: list[Package]
    origin: RunOrigin


class Proposal(BaseModel):
    """The proposal as code settled it."""

    package: Package
    chosen_by: Literal["model", "rule"]
    reason: str
    summary: str
    scope: list[str]
    next_steps: list[str]
    dropped: list[str] = Field(description="Text left out because it stated another price")


class ProposalOpened(BaseModel):
    deal_id: uuid.UUID
    review_id: uuid.UUID
    price: Amount
    currency: str


class SalesOutput(BaseModel):
    lead_id: uuid.UUID
    deal_id: uuid.UUID
    review_id: uuid.UUID
    package_code: str
    package_name: str
    price: Amount = Field(description="The price book's list price, a string")
    currency: str
    billing_period: str
    summary: str
    scope: list[str]
    next_steps: list[str]
    package_chosen_by: Literal["model", "rule"] = Field(
        description="rule: the model named no active package even after a repair, so the size rule chose")
    reason: str
    dropped: list[str]
    offline: bool
    confidence: float


def _load(session: Session, ctx: RunContext, lead_id: uuid.UUID) -> dict[str, Any]:
    lead = load_lead(session, ctx.context, lead_id)
    if lead.status not in ELIGIBLE:
        raise PermanentError(
            f"Lead {lead_id} is '{lead.status}': the sales agent proposes only to leads that were qualified and "
            "contacted (status 'contacted', or 'proposal' for a new proposal).", code="lead_not_eligible")
    packages = [Package.of(item) for item in price_book.active_items(session, ctx.context)]
    if not packages:
        raise PermanentError("The price book has no active package: add one (POST /api/v1/price-book) and retry.",
                             code="price_book_empty")
    qualification = {"score": lead.score, "bucket": lead.bucket,
                     "summary": (lead.qualification or {}).get("summary", "")}
    return Loaded(lead_id=lead.id, lead=lead_facts(lead), qualification=qualification,
                  company=tenant_facts(session, ctx.tenant_id).name, packages=packages,
                  origin=run_origin(session, ctx.run_id)).model_dump(mode="json")


def settle(answer: ProposalAnswer, loaded: Loaded) -> Proposal:
    """Code's proposal from the model's: the package (the model's if it is in the price book, else the
    rule's), and its text without sentences that state another price."""
    package = find_package(answer.package_code, loaded.packages)
    if package is not None:
        chosen_by, reason = "model", answer.rationale or "chosen by the model"
    else:
        package, rule = package_for_size(loaded.lead.get("company_size"), loaded.packages)
        chosen_by, reason = "rule", f"the model named no package of the price book ('{answer.package_code}'); {rule}"
    price = package.list_price
    summary, dropped = without_other_amounts(answer.summary, price)
    kept_lists = []
    for items in (answer.scope, answer.next_steps):
        kept = [item for item in items if not _other_amounts(item, price)]
        dropped.extend(item for item in items if item not in kept)
        kept_lists.append(kept)
    scope, next_steps = kept_lists
    fallback = _offline_text(loaded.lead, loaded.company, package)
    return Proposal(package=package, chosen_by=chosen_by, reason=reason, summary=summary or fallback.summary,
                    scope=scope or fallback.scope, next_steps=next_steps or fallback.next_steps, dropped=dropped)


def _open_proposal_review(session: Session, ctx: TenantContext, loaded: Loaded, proposal: Proposal,
                          run_id: uuid.UUID) -> dict[str, Any]:
    with business_errors():
        lead = load_lead(session, ctx, loaded.lead_id)
        item = price_book.get_by_code(session, ctx, proposal.package.code)
        if item is None or not item.active:
            raise PermanentError(f"The package '{proposal.package.code}' left the price book during the run; "
                                 "retry the run to propose another.", code="package_withdrawn")
        deal = deals.upsert_proposal_deal(session, ctx, lead=lead, item=item, run_id=run_id,
                                          pipeline_id=loaded.origin.pipeline_id)
        # The deal's price is the book's as of now (app.deals copies it); the proposal states that one.
        price = money.quantize(deal.list_price, deal.currency)
        content = ProposalContent(package_code=deal.package_code, price=price, currency=deal.currency,
                                  billing_period=item.billing_period, summary=proposal.summary, scope=proposal.scope,
                                  next_steps=proposal.next_steps)
        review = open_review(
            session, ctx, entity_type=REVIEW_ENTITY, entity_id=deal.id, agent=AGENT_NAME,
            proposal=content.model_dump(mode="json"),
            citations=[{"source": "price_book", "package_code": item.code, "item_id": str(item.id),
                        "list_price": money.format_amount(price), "currency": deal.currency}],
            summary=f"{item.name} for {loaded.lead.get('company') or loaded.lead.get('name')}: "
                    f"{money.format_amount(price)} {deal.currency} ({item.billing_period}); {proposal.reason}",
            run_id=run_id, pipeline_id=loaded.origin.pipeline_id,
            requested_by_type=loaded.origin.requested_by_type, requested_by_id=loaded.origin.requested_by_id)
    return ProposalOpened(deal_id=deal.id, review_id=review.id, price=price,
                          currency=deal.currency).model_dump(mode="json")


class SalesAgent(Agent[SalesInput, SalesOutput]):
    name = AGENT_NAME
    input_model = SalesInput
    output_model = SalesOutput
    uses_models = True
    prompt_keys = (PROPOSAL_PROMPT,)
    description = ("Proposes a package from the price book to a qualified, contacted lead (the price is the book's, "
                   "set in code) and creates or updates its deal; the proposal is reviewed.")

    def run(self, ctx: RunContext, payload: SalesInput) -> SalesOutput:
        loaded = Loaded.model_validate(ctx.step("load", lambda session: _load(session, ctx, payload.lead_id)))
        packages = loaded.packages
        proposed: Generation[ProposalAnswer] = generate(
            ctx, step="propose", prompt_key=PROPOSAL_PROMPT, output_model=ProposalAnswer,
            variables={"company": loaded.company, "lead": loaded.lead, "qualification": loaded.qualification,
                       "price_book": [package.model_dump(mode="json") for package in packages]},
            validators=[lambda answer: package_issues(answer, packages),
                        lambda answer: price_issues(answer, packages)])
        proposal = settle(proposed.output, loaded)
        opened = ProposalOpened.model_validate(ctx.step("open_proposal_review", lambda session: _open_proposal_review(
            session, ctx.context, loaded, proposal, ctx.run_id)))
        return SalesOutput(
            lead_id=loaded.lead_id, deal_id=opened.deal_id, review_id=opened.review_id,
            package_code=proposal.package.code, package_name=proposal.package.name, price=opened.price,
            currency=opened.currency, billing_period=proposal.package.billing_period, summary=proposal.summary,
            scope=proposal.scope, next_steps=proposal.next_steps, package_chosen_by=proposal.chosen_by,
            reason=proposal.reason, dropped=proposal.dropped, offline=proposed.offline,
            confidence=proposed.confidence)

    def needs_review(self, output: SalesOutput) -> bool:
        return True


register(SalesAgent())


# --- offline answer: the rules that answer the prompt without a model -----------------------------------


def _offline_text(lead: dict[str, Any], sender: str, package: Package) -> ProposalAnswer:
    company = lead.get("company") or lead.get("name") or "the client"
    industry, size = lead.get("industry"), lead.get("company_size")
    described = [sentence for sentence in facts.sentences(package.description) if not stated_amounts(sentence)]
    owner = f"{company}'" if company.endswith("s") else f"{company}'s"
    team = f"{owner} {industry} team" if industry else f"{owner} team"
    summary = f"{package.name} for {company}." + (f" {described[0]}" if described else "")
    if size:
        summary += f" Sized for a company of about {size} employees."
    scope = [*described[:4], f"Onboarding of {team} by {sender}"]
    next_steps = [f"{company}: confirm the scope and a start date with {sender}",
                  f"{sender}: send the order form for {package.name}",
                  f"{company} and {sender}: a kick-off call once the order form is signed"]
    return ProposalAnswer(package_code=package.code, summary=summary[:1200], scope=[s[:300] for s in scope[:10]],
                          next_steps=next_steps, rationale="")


def answer_proposal_offline(variables: dict[str, Any]) -> ProposalAnswer | None:
    """sales.proposal by rules: the package by the size rule, the summary and scope from its description,
    three next steps with their owners. No amount of money: the price is added by code."""
    lead, items = variables.get("lead"), variables.get("price_book")
    if not isinstance(lead, dict) or not isinstance(items, list) or not items:
        return None
    packages = [Package.model_validate(item) for item in items]
    size = lead.get("company_size")
    package, why = package_for_size(size if isinstance(size, int) else None, packages)
    answer = _offline_text(lead, str(variables.get("company") or "we"), package)
    return answer.model_copy(update={"rationale": f"{package.name}: {why}."})


register_answerer(PROPOSAL_PROMPT, ProposalAnswer, answer_proposal_offline)
