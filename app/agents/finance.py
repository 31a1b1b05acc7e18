"""`finance`: for a won deal, the contract summary and the draft invoice, whose issue waits for a reviewer.

    load ─► contract (model) ─► memo (model) ─► open_invoice_review

- **load**: the deal (missing, or not `won`, is a permanent error; so is a deal already invoiced or with a
  draft waiting for review), its lead, the package, the tenant's `settings.finance` (invalid: permanent).
  CODE settles the terms: the price is the deal's agreed amount, the currency the deal's, the term the
  negotiated one (else `default_term_months`), the payment terms the tenant's.
- **contract**: the model writes the summary (parties, package, price, term, payment terms). CODE checks
  every amount, currency, term and number of days it states against the terms (one repair attempt), then
  drops the sentences that still state another; an emptied summary is replaced by the rule-based one.
- **memo**: the invoice's lines, tax and totals are computed in CODE (app.invoices.en16931: per line, half
  up to the currency's minor unit) before the model sees them; it writes only the memo, checked the same way
  (amounts must be the invoice's, no dates).
- **open_invoice_review**: the contract, the draft invoice (no number) and its `invoice` review, in one
  transaction. Approving the review issues the invoice (number, dates, client, lead `won`: app.invoices).

With the offline provider, both prompts are answered by the rules at the end of this file.
"""

import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.agents import facts
from app.agents.base import Agent, RunContext
from app.agents.records import RunOrigin, business_errors, lead_facts, load_lead, run_origin, tenant_facts
from app.agents.registry import register
from app.contracts import service as contracts
from app.core import money
from app.core.context import TenantContext
from app.core.errors import UnprocessableEntity
from app.core.money import Amount, Currency
from app.core.scope import scoped
from app.deals import service as deals
from app.deals.state import DealStage
from app.invoices import en16931
from app.invoices import service as invoices
from app.invoices.schemas import LineIn, ReviewLine, TaxSubtotalOut
from app.invoices.settings import FinanceSettings, parse
from app.invoices.state import InvoiceStatus
from app.llm.orchestrator import Generation, generate
from app.llm.providers.offline import register_answerer
from app.models import Deal, NegotiationRound
from app.price_book import service as price_book
from app.runs.errors import PermanentError

AGENT_NAME = "finance"
CONTRACT_PROMPT = "finance.contract"
MEMO_PROMPT = "finance.memo"
# Months in one billing period; a one-time package has none.
PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
PERIOD_NOUN = {"monthly": "month", "quarterly": "quarter", "yearly": "year"}


# --- the terms, settled by code ------------------------------------------------------------------------


class DealTerms(BaseModel):
    """What the contract and the invoice state, all from the records: never from a model."""

    deal_id: uuid.UUID
    lead_id: uuid.UUID
    package_code: str
    package_name: str
    description: str
    price: Amount = Field(description="The deal's agreed amount per billing period")
    currency: Currency
    billing_period: str
    term_months: int
    payment_terms_days: int
    payment_terms: str


def payment_terms_text(billing_period: str, days: int) -> str:
    due = "on receipt" if days == 0 else f"within {days} days of the invoice date"
    if billing_period in PERIOD_NOUN:
        return f"Billed {billing_period} in advance; each invoice is payable {due}."
    return f"One invoice, payable {due}."


def invoice_lines(terms: DealTerms, settings: FinanceSettings) -> list[LineIn]:
    """The invoice of a won deal: the package at the deal's agreed amount, for its first billing period or
    (`invoice_schedule: full_term`) for every period of the term at once; a one-time package once."""
    months = PERIOD_MONTHS.get(terms.billing_period)
    if months is None:
        quantity, description = Decimal(1), f"{terms.package_name} ({terms.package_code})"
    elif settings.invoice_schedule == "full_term":
        periods = math.ceil(terms.term_months / months)
        quantity = Decimal(periods)
        description = (f"{terms.package_name} ({terms.package_code}), {terms.billing_period} fee × {periods}: "
                       f"the {terms.term_months}-month term")
    else:
        quantity = Decimal(1)
        description = (f"{terms.package_name} ({terms.package_code}), {terms.billing_period} fee: first "
                       f"{PERIOD_NOUN[terms.billing_period]} of the {terms.term_months}-month term")
    return [LineIn(description=description, quantity=quantity, unit_price=terms.price, tax_rate=settings.tax_rate)]


# --- what the model's text may state --------------------------------------------------------------------

_DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD", "BSD", "BBD", "BZD", "BMD", "BND",
                      "KYD", "FJD", "GYD", "JMD", "LRD", "NAD", "SBD", "SRD", "TTD", "XCD"})
_SYMBOLS = {"€": frozenset({"EUR"}), "£": frozenset({"GBP"}), "¥": frozenset({"JPY", "CNY"}), "$": _DOLLARS}
_MARK = r"[€£¥$]|\b(?:" + "|".join(sorted(money.MINOR_UNITS)) + r")\b"
_NUMBER = r"\d[\d.,]*\d|\d"
_MONEY = re.compile(rf"(?P<before>{_MARK})\s?(?P<a>{_NUMBER})|(?P<b>{_NUMBER})\s?(?P<after>{_MARK})")
_TERM = re.compile(r"\b(\d+)[\s-]*(month|year)s?\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d+)[\s-]*(?:calendar\s+|business\s+|working\s+)?days?\b", re.IGNORECASE)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b(?:January|February|March|April|May|"
                   r"June|July|August|September|October|November|December)\s+\d{1,2}\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def stated_money(text: str) -> list[tuple[Decimal, str, frozenset[str]]]:
    """The amounts of money `text` states: each value, its sign or code, and the currencies that may mean."""
    found = []
    for match in _MONEY.finditer(text):
        mark = match.group("before") or match.group("after")
        number = match.group("a") or match.group("b")
        found.extend((value, mark, _SYMBOLS.get(mark, frozenset({mark}))) for value in facts.numbers_in(number))
    return found


def text_issues(text: str, *, currency: str, amounts: set[Decimal], days: int,
                term_months: int | None = None) -> list[str]:
    """What `text` states that the records do not: an amount that is none of `amounts`, another currency, a
    term other than `term_months` (when given), a number of days other than `days`, or a date."""
    issues = []
    allowed = ", ".join(sorted(money.format_amount(amount) for amount in amounts))
    for value, mark, currencies in stated_money(text):
        if currency not in currencies:
            issues.append(f"it states an amount in {mark}, but the currency is {currency}")
        elif value not in amounts:
            issues.append(f"it states {money.format_amount(value)} {currency}, which is not an amount of this "
                          f"deal or invoice ({allowed} {currency}): state no other amount")
    for count, unit in _TERM.findall(text):
        months = int(count) * (12 if unit.lower() == "year" else 1)
        if term_months is not None and months != term_months:
            issues.append(f"it states a term of {count} {unit}(s), but the term is {term_months} months")
    for count in _DAYS.findall(text):
        if int(count) != days:
            issues.append(f"it states {count} days, but the payment terms are {days} days")
    if _DATE.search(text):
        issues.append("it states a date: dates are set by the billing system when the invoice is issued; state none")
    return issues


def without_issues(text: str, issues_of: Callable[[str], list[str]]) -> tuple[str, list[str]]:
    """`text` without the sentences `issues_of(sentence)` finds fault with, and those sentences."""
    sentences = _SENTENCE_END.split(text.strip())
    dropped = [sentence for sentence in sentences if issues_of(sentence)]
    return " ".join(sentence for sentence in sentences if sentence not in dropped), dropped


# --- the model's answers ---------------------------------------------------------------------------------


class ContractAnswer(BaseModel):
    summary: str = Field(min_length=1, max_length=1500,
                         description="At most five sentences: parties, package, price, term, payment terms")


class MemoAnswer(BaseModel):
    memo: str = Field(min_length=1, max_length=800, description="At most three sentences to the client")


# --- the run ---------------------------------------------------------------------------------------------


class FinanceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deal_id: uuid.UUID


class Loaded(BaseModel):
    terms: DealTerms
    company: str
    seller: dict[str, Any]
    buyer: dict[str, Any]
    lead: dict[str, Any]
    settings: FinanceSettings
    origin: RunOrigin
    pipeline_id: uuid.UUID | None


class InvoicePreview(BaseModel):
    """The invoice as code computed it, before it is written: what the memo prompt and the reviewer see."""

    currency: str
    lines: list[ReviewLine]
    line_total: Amount
    tax_total: Amount
    total_with_tax: Amount
    amount_due: Amount
    tax_breakdown: list[TaxSubtotalOut]
    payment_terms_days: int

    def amounts(self) -> set[Decimal]:
        return {self.line_total, self.tax_total, self.total_with_tax, self.amount_due,
                *(line.net_amount for line in self.lines), *(line.unit_price for line in self.lines),
                *(subtotal.tax_amount for subtotal in self.tax_breakdown)}


class Opened(BaseModel):
    contract_id: uuid.UUID
    invoice_id: uuid.UUID
    review_id: uuid.UUID


class FinanceOutput(BaseModel):
    deal_id: uuid.UUID
    contract_id: uuid.UUID
    invoice_id: uuid.UUID
    review_id: uuid.UUID
    currency: str
    price: Amount = Field(description="The deal's agreed amount per billing period")
    term_months: int
    payment_terms: str
    contract_summary: str
    memo: str
    invoice: InvoicePreview = Field(description="Lines, tax breakdown and totals, computed in code")
    dropped: list[str] = Field(description="Sentences left out because they stated numbers the records do not")
    offline: bool
    confidence: float


def _agreed_term(session: Session, ctx: TenantContext, deal: Deal) -> int | None:
    """The term of the deal's latest negotiation round that names one (`terms.term_months`), if any."""
    rounds = session.scalars(scoped(ctx, NegotiationRound).where(NegotiationRound.deal_id == deal.id)
                             .order_by(NegotiationRound.round.desc(), NegotiationRound.created_at.desc()))
    for negotiated in rounds:
        term = (negotiated.terms or {}).get("term_months")
        if isinstance(term, int) and not isinstance(term, bool) and 1 <= term <= 120:
            return term
    return None


def _refuse_invoiced(session: Session, ctx: TenantContext, deal: Deal) -> None:
    for invoice in invoices.invoices_for_deal(session, ctx, deal.id):
        if invoice.status == InvoiceStatus.issued:
            raise PermanentError(f"Deal {deal.id} is invoiced already ({invoice.number}); correct that invoice with "
                                 "a credit note instead.", code="already_invoiced")
        if invoice.status == InvoiceStatus.draft:
            raise PermanentError(f"Deal {deal.id} has a draft invoice ({invoice.id}) waiting for review; decide that "
                                 "review first.", code="invoice_pending")


def _load(session: Session, ctx: RunContext, deal_id: uuid.UUID) -> dict[str, Any]:
    with business_errors():
        deal = deals.get_deal(session, ctx.context, deal_id)
    if deal.stage != DealStage.won:
        raise PermanentError(f"Deal {deal_id} is in stage '{deal.stage}': the finance agent invoices only won deals.",
                             code="deal_not_won")
    _refuse_invoiced(session, ctx.context, deal)
    lead = load_lead(session, ctx.context, deal.lead_id)
    tenant = tenant_facts(session, ctx.tenant_id)
    try:
        settings = parse(tenant.settings)
    except UnprocessableEntity as exc:
        raise PermanentError(exc.detail, code="finance_settings_invalid") from exc
    try:
        en16931.supports(deal.currency)
    except ValueError as exc:
        raise PermanentError(f"Deal {deal_id}: {exc}.", code="currency_not_invoiceable") from exc
    item = price_book.get_by_code(session, ctx.context, deal.package_code)
    billing_period = (deal.proposal or {}).get("billing_period") or (item.billing_period if item else "one_time")
    term = _agreed_term(session, ctx.context, deal) or settings.default_term_months
    terms = DealTerms(
        deal_id=deal.id, lead_id=lead.id, package_code=deal.package_code,
        package_name=item.name if item else deal.package_code, description=item.description if item else "",
        price=money.quantize(deal.amount, deal.currency), currency=deal.currency, billing_period=billing_period,
        term_months=term, payment_terms_days=settings.payment_terms_days,
        payment_terms=payment_terms_text(billing_period, settings.payment_terms_days))
    seller = {"name": settings.seller.name or tenant.name, "address": settings.seller.address,
              "vat_id": settings.seller.vat_id, "email": settings.seller.email}
    buyer = {"name": lead.company or lead.name, "contact": lead.name, "email": lead.email, "country": lead.country}
    origin = run_origin(session, ctx.run_id)
    return Loaded(terms=terms, company=tenant.name, seller={k: v for k, v in seller.items() if v},
                  buyer={k: v for k, v in buyer.items() if v}, lead=lead_facts(lead), settings=settings, origin=origin,
                  pipeline_id=origin.pipeline_id or deal.pipeline_id).model_dump(mode="json")


def preview(loaded: Loaded) -> InvoicePreview:
    """The invoice's lines and totals, computed in code (app.invoices.en16931)."""
    lines = invoice_lines(loaded.terms, loaded.settings)
    totals = en16931.compute([en16931.Line(line.description, line.quantity, line.unit_price, line.tax_rate)
                              for line in lines], loaded.terms.currency)
    return InvoicePreview(
        currency=totals.currency,
        lines=[ReviewLine(description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                          tax_rate=line.tax_rate, net_amount=line.net_amount) for line in totals.lines],
        line_total=totals.line_total, tax_total=totals.tax_total, total_with_tax=totals.total_with_tax,
        amount_due=totals.amount_due, tax_breakdown=totals.tax_breakdown,
        payment_terms_days=loaded.terms.payment_terms_days)


def contract_issues(answer: ContractAnswer, terms: DealTerms) -> list[str]:
    return text_issues(answer.summary, currency=terms.currency, amounts={terms.price}, days=terms.payment_terms_days,
                       term_months=terms.term_months)


def memo_issues(answer: MemoAnswer, invoice: InvoicePreview) -> list[str]:
    return text_issues(answer.memo, currency=invoice.currency, amounts=invoice.amounts(),
                       days=invoice.payment_terms_days)


def settle_contract(answer: ContractAnswer, loaded: Loaded) -> tuple[str, list[str]]:
    """The summary without the sentences that state numbers other than the deal's; the rule-based summary when
    nothing is left."""
    summary, dropped = without_issues(answer.summary, lambda s: contract_issues(ContractAnswer(summary=s),
                                                                                loaded.terms))
    return summary or offline_contract(loaded.company, loaded.seller, loaded.buyer, loaded.terms), dropped


def settle_memo(answer: MemoAnswer, loaded: Loaded, invoice: InvoicePreview) -> tuple[str, list[str]]:
    memo, dropped = without_issues(answer.memo, lambda s: memo_issues(MemoAnswer(memo=s), invoice))
    return memo or offline_memo(loaded.buyer, loaded.terms, invoice), dropped


def _open_invoice_review(session: Session, ctx: TenantContext, loaded: Loaded, summary: str, memo: str,
                         run_id: uuid.UUID) -> dict[str, Any]:
    terms = loaded.terms
    with business_errors():
        deal = deals.get_deal(session, ctx, terms.deal_id, for_update=True)  # one finance draft per deal at a time
        if deal.stage != DealStage.won:
            raise PermanentError(f"Deal {deal.id} left stage 'won' during the run.", code="deal_not_won")
        if money.quantize(deal.amount, deal.currency) != terms.price or deal.currency != terms.currency:
            raise PermanentError(f"Deal {deal.id}'s amount changed during the run; retry it.", code="conflict")
        _refuse_invoiced(session, ctx, deal)
        contract = contracts.record_contract(
            session, ctx, deal=deal, parties={"seller": loaded.seller, "buyer": loaded.buyer}, price=terms.price,
            term_months=terms.term_months, payment_terms=terms.payment_terms[:200], summary=summary, run_id=run_id)
        invoice = invoices.create_draft(
            session, ctx, currency=terms.currency, lines=invoice_lines(terms, loaded.settings), seller=loaded.seller,
            buyer=loaded.buyer, memo=memo, deal_id=deal.id, contract_id=contract.id, pipeline_id=loaded.pipeline_id,
            run_id=run_id)
        total = money.format_amount(money.quantize(invoice.total_with_tax, invoice.currency))
        review = invoices.open_invoice_review(
            session, ctx, invoice, agent=AGENT_NAME, payment_terms_days=terms.payment_terms_days,
            summary=f"Invoice to {loaded.buyer.get('name')}: {total} {invoice.currency} with tax, for "
                    f"{terms.package_name} ({terms.term_months}-month term)",
            citations=[{"source": "deal", "deal_id": str(deal.id), "amount": money.format_amount(terms.price),
                        "currency": terms.currency, "contract_id": str(contract.id)}],
            requested_by_type=loaded.origin.requested_by_type, requested_by_id=loaded.origin.requested_by_id)
    return Opened(contract_id=contract.id, invoice_id=invoice.id, review_id=review.id).model_dump(mode="json")


class FinanceAgent(Agent[FinanceInput, FinanceOutput]):
    name = AGENT_NAME
    input_model = FinanceInput
    output_model = FinanceOutput
    uses_models = True
    prompt_keys = (CONTRACT_PROMPT, MEMO_PROMPT)
    description = ("For a won deal, writes the contract summary and a draft invoice (lines, tax and totals "
                   "computed in code); the invoice is issued, with its number, when a reviewer approves it.")

    def run(self, ctx: RunContext, payload: FinanceInput) -> FinanceOutput:
        loaded = Loaded.model_validate(ctx.step("load", lambda session: _load(session, ctx, payload.deal_id)))
        terms = loaded.terms
        contract: Generation[ContractAnswer] = generate(
            ctx, step="contract", prompt_key=CONTRACT_PROMPT, output_model=ContractAnswer,
            variables={"company": loaded.company, "seller": loaded.seller, "buyer": loaded.buyer,
                       "deal": terms.model_dump(mode="json")},
            validators=[lambda answer: contract_issues(answer, terms)])
        summary, dropped_from_summary = settle_contract(contract.output, loaded)
        invoice = preview(loaded)
        memo: Generation[MemoAnswer] = generate(
            ctx, step="memo", prompt_key=MEMO_PROMPT, output_model=MemoAnswer,
            variables={"company": loaded.company, "buyer": loaded.buyer, "deal": terms.model_dump(mode="json"),
                       "invoice": invoice.model_dump(mode="json")},
            validators=[lambda answer: memo_issues(answer, invoice)])
        memo_text, dropped_from_memo = settle_memo(memo.output, loaded, invoice)
        opened = Opened.model_validate(ctx.step("open_invoice_review", lambda session: _open_invoice_review(
            session, ctx.context, loaded, summary, memo_text, ctx.run_id)))
        return FinanceOutput(
            deal_id=terms.deal_id, contract_id=opened.contract_id, invoice_id=opened.invoice_id,
            review_id=opened.review_id, currency=terms.currency, price=terms.price, term_months=terms.term_months,
            payment_terms=terms.payment_terms, contract_summary=summary, memo=memo_text, invoice=invoice,
            dropped=[*dropped_from_summary, *dropped_from_memo], offline=contract.offline and memo.offline,
            confidence=min(contract.confidence, memo.confidence))

    def needs_review(self, output: FinanceOutput) -> bool:
        return True


register(FinanceAgent())


# --- offline answers: the rules that answer the prompts without a model -----------------------------------


def _per_period(terms: DealTerms) -> str:
    noun = PERIOD_NOUN.get(terms.billing_period)
    return f"per {noun}" if noun else "once"


def offline_contract(company: str, seller: dict[str, Any], buyer: dict[str, Any], terms: DealTerms) -> str:
    seller_name = seller.get("name") or company
    buyer_name = buyer.get("name") or "the client"
    covered = [s for s in facts.sentences(terms.description) if not stated_money(s) and not _TERM.search(s)
               and not _DAYS.search(s)]
    text = (f"{seller_name} and {buyer_name} agree on the {terms.package_name} package"
            + (f": {covered[0].rstrip('.')}." if covered else ".")
            + f" The price is {money.format_amount(terms.price)} {terms.currency} {_per_period(terms)}, "
              f"excluding tax, for a term of {terms.term_months} months. {terms.payment_terms}")
    return text[:1500]


def offline_memo(buyer: dict[str, Any], terms: DealTerms, invoice: InvoicePreview) -> str:
    contact = str(buyer.get("contact") or buyer.get("name") or "").split(" ")[0]
    greeting = f"Thank you for choosing {terms.package_name}, {contact}." if contact else \
        f"Thank you for choosing {terms.package_name}."
    days = invoice.payment_terms_days
    due = "payable on receipt" if days == 0 else f"payable within {days} days of the invoice date"
    return (f"{greeting} This invoice covers {invoice.lines[0].description}. The total of "
            f"{money.format_amount(invoice.total_with_tax)} {invoice.currency}, tax included, is {due}.")[:800]


def answer_contract_offline(variables: dict[str, Any]) -> ContractAnswer | None:
    """finance.contract by rules: the parties, the package and what its description covers, the deal's price,
    term and payment terms, each stated as the records have it."""
    deal = variables.get("deal")
    if not isinstance(deal, dict):
        return None
    terms = DealTerms.model_validate(deal)
    return ContractAnswer(summary=offline_contract(str(variables.get("company") or "We"),
                                                   variables.get("seller") or {}, variables.get("buyer") or {},
                                                   terms))


def answer_memo_offline(variables: dict[str, Any]) -> MemoAnswer | None:
    """finance.memo by rules: thanks by first name, what the invoice covers, its total with tax and when it is
    payable, as the invoice states them."""
    deal, invoice = variables.get("deal"), variables.get("invoice")
    if not isinstance(deal, dict) or not isinstance(invoice, dict):
        return None
    return MemoAnswer(memo=offline_memo(variables.get("buyer") or {}, DealTerms.model_validate(deal),
                                        InvoicePreview.model_validate(invoice)))


register_answerer(CONTRACT_PROMPT, ContractAnswer, answer_contract_offline)
register_answerer(MEMO_PROMPT, MemoAnswer, answer_memo_offline)
