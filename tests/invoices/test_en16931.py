"""The EN 16931 arithmetic as plain functions: the rounding policy on examples, every rule caught when a stored
value is wrong, and (hypothesis) every computed document over random lines, quantities and rates passes all
the rules, as does every invoice issued through the service and read back from the database."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.context import TenantContext
from app.invoices import en16931
from app.invoices import service as invoices
from app.invoices.en16931 import Line, compute
from app.models import Invoice
from tests.builders import make_tenant
from tests.invoices.helpers import draft, line

D = Decimal


def test_each_line_is_rounded_half_up_before_the_sum():
    totals = compute([Line("a", D("3"), D("0.335"), D("19")), Line("b", D("1.5"), D("0.333"), D("19"))], "EUR")
    # 3 × 0.335 = 1.005 → 1.01 (half up); 1.5 × 0.333 = 0.4995 → 0.50
    assert [line.net_amount for line in totals.lines] == [D("1.01"), D("0.50")]
    assert totals.line_total == D("1.51")
    # one tax per rate, on the sum of that rate's lines: 1.51 × 19 % = 0.2869 → 0.29
    assert totals.tax_breakdown == [{"rate": "19.00", "taxable_amount": "1.51", "tax_amount": "0.29"}]
    assert (totals.tax_total, totals.total_with_tax, totals.amount_due) == (D("0.29"), D("1.80"), D("1.80"))


def test_tax_is_computed_per_rate_and_amount_due_takes_paid_and_rounding():
    lines = [Line("a", D("2"), D("100.00"), D("19")), Line("b", D("1"), D("10.05"), D("7")),
             Line("c", D("1"), D("49.99"), D("19.00")), Line("d", D("1"), D("5"), D("0"))]
    totals = compute(lines, "EUR", paid=D("100"), rounding=D("-0.01"))
    assert totals.tax_breakdown == [
        {"rate": "0.00", "taxable_amount": "5.00", "tax_amount": "0.00"},
        {"rate": "7.00", "taxable_amount": "10.05", "tax_amount": "0.70"},  # 0.7035
        {"rate": "19.00", "taxable_amount": "249.99", "tax_amount": "47.50"},  # 47.4981
    ]
    assert (totals.line_total, totals.tax_total, totals.total_with_tax) == (D("265.04"), D("48.20"), D("313.24"))
    assert totals.amount_due == D("213.23")  # 313.24 − 100 + (−0.01), BR-CO-16
    assert en16931.check(totals, totals.lines) == []


def test_a_zero_decimal_currency_rounds_to_whole_units():
    totals = compute([Line("a", D("3"), D("333.5"), D("10"))], "JPY")
    assert (totals.line_total, totals.tax_total, totals.total_with_tax) == (D("1001"), D("100"), D("1101"))
    assert en16931.check(totals, totals.lines) == []


@pytest.mark.parametrize("currency", ["KWD", "BHD", "CLF"])
def test_currencies_with_more_than_two_decimals_cannot_be_invoiced(currency):
    with pytest.raises(en16931.UnsupportedCurrency, match="at most 2"):
        compute([Line("a", D("1"), D("1"), D("0"))], currency)


def test_no_lines_and_unstorable_totals_are_refused():
    with pytest.raises(ValueError, match="at least one line"):
        compute([], "EUR")
    with pytest.raises(en16931.TooLarge):
        compute([Line("a", D("99999999999"), D("99999.99"), D("0"))], "EUR")


def _sound():
    return compute([Line("a", D("2"), D("10.00"), D("19")), Line("b", D("1"), D("5.00"), D("7"))], "EUR")


def _with(totals, **changes):
    return dataclasses.replace(totals, **changes)


def _line(totals, index, **changes):
    lines = list(totals.lines)
    lines[index] = dataclasses.replace(lines[index], **changes)
    return lines


@pytest.mark.parametrize(("tamper", "rules"), [
    (lambda t: (t, _line(t, 0, net_amount=D("20.01"))), {"PEPPOL-EN16931-R120", "BR-CO-10", "BR-S-08"}),
    (lambda t: (t, _line(t, 0, net_amount=D("20.005"), unit_price=D("10.0025"))),
     {"BR-DEC-23", "PEPPOL-EN16931-R120", "BR-CO-10", "BR-S-08"}),
    (lambda t: (_with(t, line_total=D("26.00")), t.lines), {"BR-CO-10", "BR-CO-15"}),
    (lambda t: (_with(t, tax_total=D("4.16")), t.lines), {"BR-CO-14", "BR-CO-15"}),
    (lambda t: (_with(t, tax_total=D("4.155"), total_with_tax=D("29.155"), amount_due=D("29.155")), t.lines),
     {"BR-CO-14", "BR-DEC-13", "BR-DEC-14", "BR-DEC-18"}),
    (lambda t: (_with(t, total_with_tax=D("29.16"), amount_due=D("29.16")), t.lines), {"BR-CO-15"}),
    (lambda t: (_with(t, amount_due=D("0.00")), t.lines), {"BR-CO-16"}),
    (lambda t: (_with(t, paid_amount=D("0.001"), amount_due=D("29.149")), t.lines),
     {"BR-DEC-16", "BR-DEC-18"}),
    (lambda t: (_with(t, breakdown=()), t.lines), {"BR-CO-18", "BR-S-08", "BR-CO-14"}),
    (lambda t: (_with(t, breakdown=(t.breakdown[0],)), t.lines), {"BR-S-08", "BR-CO-14"}),
    (lambda t: (_with(t, breakdown=(dataclasses.replace(t.breakdown[1], tax_amount=D("3.81")), t.breakdown[0])),
                t.lines), {"BR-CO-17", "BR-CO-14"}),
    (lambda t: (_with(t, breakdown=(dataclasses.replace(t.breakdown[1], taxable_amount=D("21.00")),
                                    t.breakdown[0])), t.lines), {"BR-S-08", "BR-CO-17"}),
    (lambda t: (t, []), {"BR-16", "BR-CO-10", "BR-S-08"}),
])
def test_check_names_each_broken_rule(tamper, rules):
    document, lines = tamper(_sound())
    assert set(en16931.check(document, lines)) == rules


def test_a_malformed_breakdown_is_a_broken_rule_not_a_crash():
    totals = _sound()

    class Stored:
        currency, line_total, tax_total = "EUR", totals.line_total, totals.tax_total
        total_with_tax, paid_amount, rounding_amount, amount_due = (totals.total_with_tax, D(0), D(0),
                                                                    totals.amount_due)
        tax_breakdown = [{"rate": "Infinity"}, "nonsense", *totals.tax_breakdown]

    assert "BR-S-08" in en16931.check(Stored(), totals.lines)


# --- property: whatever the lines, the computed document passes every rule ---------------------------------

quantities = st.decimals(min_value=D("0.0001"), max_value=D("10000"), places=4)
prices = st.decimals(min_value=D("0"), max_value=D("100000"), places=4)
rates = st.sampled_from([D(0), D(5), D(7), D("7.7"), D(10), D("12.5"), D(19), D(20), D(21), D("25.5"), D(100)])
lines = st.lists(st.builds(Line, st.just("item"), quantities, prices, rates), min_size=1, max_size=12)
currencies = st.sampled_from(["EUR", "USD", "JPY", "CHF", "HUF", "ISK"])


@given(lines=lines, currency=currencies, paid=st.decimals(min_value=D(0), max_value=D(1000), places=2),
       rounding=st.decimals(min_value=D("-0.99"), max_value=D("0.99"), places=2))
def test_every_computed_document_passes_every_rule(lines, currency, paid, rounding):
    totals = compute(lines, currency, paid=paid, rounding=rounding)
    assert en16931.check(totals, totals.lines) == []
    for line, priced in zip(lines, totals.lines, strict=True):  # the policy, restated
        assert priced.net_amount == (line.quantity * line.unit_price).quantize(
            D(1).scaleb(-min(2, {"JPY": 0, "ISK": 0}.get(currency, 2))), rounding="ROUND_HALF_UP")
    assert totals.total_with_tax == totals.line_total + totals.tax_total


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(st.tuples(quantities, prices, rates), min_size=1, max_size=6), currency=currencies)
def test_every_issued_invoice_read_back_from_the_database_passes_every_rule(db, lines, currency):
    """Through the service: drafted, issued (numbered), then read back as NUMERIC(18, 4) from PostgreSQL."""
    tenant = make_tenant(db)
    savepoint = db.begin_nested()
    invoice = draft(db, tenant.id, *(line(quantity=format(q, "f"), unit_price=format(p, "f"), tax_rate=format(r, "f"))
                                     for q, p, r in lines), currency=currency)
    invoices.issue(db, TenantContext.system(tenant.id), invoice.id)
    db.expire_all()
    stored = db.get_one(Invoice, invoice.id)
    assert stored.status == "issued" and stored.number
    assert en16931.check(stored, invoices.lines_of(db, stored)) == []
    savepoint.rollback()
