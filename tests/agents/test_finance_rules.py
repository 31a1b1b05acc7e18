"""The finance agent's guardrails as plain functions: what a contract summary or a memo may state (the deal's
price, currency, term and payment days; the invoice's amounts; no dates), the invoice lines code makes for a
deal, and the offline answers, which pass those guardrails."""

import uuid
from decimal import Decimal

import pytest

from app.agents import finance
from app.agents.finance import (
    ContractAnswer, DealTerms, Loaded, MemoAnswer, contract_issues, invoice_lines, memo_issues, payment_terms_text,
    preview, stated_money, text_issues,
)
from app.agents.records import RunOrigin
from app.invoices.settings import FinanceSettings

TERMS = DealTerms(deal_id=uuid.uuid4(), lead_id=uuid.uuid4(), package_code="growth", package_name="Growth",
                  description="For companies of 50 to 250 employees. Onboarding workshop in 30 days.",
                  price="1250.00", currency="EUR", billing_period="monthly", term_months=12, payment_terms_days=14,
                  payment_terms=payment_terms_text("monthly", 14))


def _loaded(terms: DealTerms = TERMS, **settings) -> Loaded:
    return Loaded(terms=terms, company="Agentline Demo", seller={"name": "Agentline Demo GmbH"},
                  buyer={"name": "Analytical Engines", "contact": "Ada Lovelace"}, lead={"name": "Ada Lovelace"},
                  settings=FinanceSettings.model_validate(settings), origin=RunOrigin(
                      pipeline_id=None, requested_by_type="system", requested_by_id=None), pipeline_id=None)


def test_money_is_read_with_its_currency_sign_or_code():
    assert stated_money("It costs €1,250.00 a month, or 15000 EUR a year; setup USD 99.") == [
        (Decimal("1250"), "€", frozenset({"EUR"})), (Decimal("15000"), "EUR", frozenset({"EUR"})),
        (Decimal("99"), "USD", frozenset({"USD"}))]
    assert stated_money("For 50 to 250 employees, in 12 months.") == []


@pytest.mark.parametrize(("text", "problem"), [
    ("Growth at 1250.00 EUR per month.", None),
    ("Growth at €1,250 per month for 12 months, payable within 14 days.", None),
    ("Growth at 990.00 EUR per month.", "states 990 EUR"),
    ("Growth at $1250.00 per month.", "an amount in $, but the currency is EUR"),
    ("A term of 24 months.", "term of 24 month"),
    ("A two-year term: 2 years.", "term of 2 year"),
    ("A 1-year term.", None),
    ("Invoices are due in 30 days.", "30 days"),
    ("The first invoice is due on 2030-01-15.", "states a date"),
    ("Payable by March 3 at the latest.", "states a date"),
])
def test_a_contract_summary_states_only_the_deals_numbers(text, problem):
    issues = contract_issues(ContractAnswer(summary=text), TERMS)
    if problem is None:
        assert issues == []
    else:
        assert any(problem in issue for issue in issues), issues


def test_a_memo_may_state_the_invoices_amounts_and_no_others():
    invoice = preview(_loaded())
    assert [(line.quantity, line.unit_price, line.tax_rate, line.net_amount) for line in invoice.lines] == [
        (Decimal(1), Decimal("1250.00"), Decimal("19.00"), Decimal("1250.00"))]
    assert (invoice.tax_total, invoice.total_with_tax) == (Decimal("237.50"), Decimal("1487.50"))
    fine = "The total of 1487.50 EUR, of which 237.50 EUR tax, is payable within 14 days of the invoice date."
    assert memo_issues(MemoAnswer(memo=fine), invoice) == []
    assert memo_issues(MemoAnswer(memo="Only 1400.00 EUR this time."), invoice)
    assert memo_issues(MemoAnswer(memo="A 24-month term."), invoice) == []  # the memo is not held to the term


def test_a_zero_day_term_is_payable_on_receipt():
    assert payment_terms_text("one_time", 0) == "One invoice, payable on receipt."
    assert text_issues("Payable on receipt.", currency="EUR", amounts=set(), days=0) == []


def test_the_invoice_bills_the_first_period_or_the_whole_term():
    first = invoice_lines(TERMS, FinanceSettings())
    assert [(line.quantity, line.unit_price, line.tax_rate) for line in first] == [
        (Decimal(1), Decimal("1250.00"), Decimal("19.00"))]
    assert first[0].description == "Growth (growth), monthly fee: first month of the 12-month term"
    quarterly = TERMS.model_copy(update={"billing_period": "quarterly", "term_months": 10})
    whole = invoice_lines(quarterly, FinanceSettings(invoice_schedule="full_term", tax_rate="7"))
    assert [(line.quantity, line.tax_rate) for line in whole] == [(Decimal(4), Decimal("7.00"))]  # ⌈10 / 3⌉
    once = invoice_lines(TERMS.model_copy(update={"billing_period": "one_time"}),
                         FinanceSettings(invoice_schedule="full_term"))
    assert [(line.quantity, line.description) for line in once] == [(Decimal(1), "Growth (growth)")]


def test_the_offline_answers_pass_the_guardrails():
    loaded = _loaded()
    contract = finance.answer_contract_offline({"company": loaded.company, "seller": loaded.seller,
                                                "buyer": loaded.buyer, "deal": TERMS.model_dump(mode="json")})
    assert contract_issues(contract, TERMS) == []
    assert contract.summary.startswith("Agentline Demo GmbH and Analytical Engines agree on the Growth package: "
                                       "For companies of 50 to 250 employees.")
    assert "1250.00 EUR per month" in contract.summary and "12 months" in contract.summary
    assert "30 days" not in contract.summary  # the description's sentence with another number of days is left out
    invoice = preview(loaded)
    memo = finance.answer_memo_offline({"buyer": loaded.buyer, "deal": TERMS.model_dump(mode="json"),
                                        "invoice": invoice.model_dump(mode="json")})
    assert memo_issues(memo, invoice) == []
    assert memo.memo.startswith("Thank you for choosing Growth, Ada.") and "1487.50 EUR" in memo.memo


def test_settling_drops_the_sentences_with_wrong_numbers_and_falls_back_when_nothing_is_left():
    loaded = _loaded()
    summary, dropped = finance.settle_contract(ContractAnswer(
        summary="Growth for Analytical Engines. Special price 990.00 EUR per month. Term: 12 months."), loaded)
    assert (summary, dropped) == ("Growth for Analytical Engines. Term: 12 months.",
                                  ["Special price 990.00 EUR per month."])
    summary, dropped = finance.settle_contract(ContractAnswer(summary="Only 990 EUR."), loaded)
    assert dropped == ["Only 990 EUR."] and "1250.00 EUR per month" in summary
