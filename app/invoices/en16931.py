"""The arithmetic of EN 16931 (the European e-invoicing standard), in code, with Decimal.

Rounding policy, stated once: each **line's net amount** is quantity × unit price rounded half up to the
currency's minor unit (`app.core.money.quantize`); each **tax rate's tax** is its taxable amount × rate / 100,
rounded the same way. Everything else is a sum or a difference of rounded amounts and needs no rounding.
Unit prices (up to four decimals) and quantities are never rounded.

`compute` makes the totals of a set of lines; `check` verifies every rule on stored values (an invoice as
the database holds it) and returns the ids of the rules it breaks. Both work for credit notes too.

Rules (EN 16931-1 business rules; R120 is Peppol's rule for the line net amount):

    BR-16                 an invoice has at least one line
    PEPPOL-EN16931-R120   line net amount (BT-131) = quantity (BT-129) × unit price (BT-146), rounded
    BR-CO-10              sum of line net amounts (BT-106) = Σ BT-131; with no document-level allowances or
                          charges it is also the total without tax (BT-109, BR-CO-13)
    BR-CO-18              at least one tax breakdown (BG-23)
    BR-S-08               one breakdown per rate of the lines; its taxable amount (BT-116) = Σ BT-131 at that rate
    BR-CO-17              tax amount (BT-117) = BT-116 × rate (BT-119) / 100, rounded
    BR-CO-14              total tax (BT-110) = Σ BT-117
    BR-CO-15              total with tax (BT-112) = BT-109 + BT-110
    BR-CO-16              amount due (BT-115) = BT-112 − paid (BT-113) + rounding (BT-114)
    BR-DEC-09/13/14/16/17/18/19/20/23   those amounts have at most two decimals

EN 16931 allows amounts at most two decimals, so currencies with three or four (KWD, BHD, CLF, …) cannot be
invoiced (`supports`); zero-decimal currencies (JPY) are rounded to whole units, as ISO 4217 says.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from app.core import money

MAX_DECIMALS = 2  # BR-DEC
HUNDRED = Decimal(100)
_RATE_PLACES = Decimal("0.01")
# What NUMERIC(18, 4) holds: an amount of 10^14 or more cannot be stored.
_MAX_AMOUNT = Decimal(10) ** money.MAX_INTEGER_DIGITS


class UnsupportedCurrency(ValueError):
    pass


class TooLarge(ValueError):
    pass


def supports(currency: str) -> None:
    """ValueError (UnsupportedCurrency) for a currency whose amounts EN 16931 cannot carry."""
    places = money.minor_unit(currency)
    if places > MAX_DECIMALS:
        raise UnsupportedCurrency(f"{currency} has {places} decimals, and EN 16931 invoice amounts have at most "
                                  f"{MAX_DECIMALS}: it cannot be invoiced")


def format_rate(rate: Decimal) -> str:
    """A tax rate as the breakdown stores it: "19.00"."""
    return money.format_amount(rate.quantize(_RATE_PLACES))


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal  # percent


@dataclass(frozen=True)
class PricedLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    net_amount: Decimal


@dataclass(frozen=True)
class TaxSubtotal:
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal

    def as_json(self) -> dict[str, str]:
        return {"rate": format_rate(self.rate), "taxable_amount": money.format_amount(self.taxable_amount),
                "tax_amount": money.format_amount(self.tax_amount)}


@dataclass(frozen=True)
class Totals:
    """A document's lines and totals as `compute` made them; `check(totals, totals.lines)` is empty."""

    currency: str
    lines: tuple[PricedLine, ...]
    line_total: Decimal  # BT-106 = BT-109
    tax_total: Decimal  # BT-110
    total_with_tax: Decimal  # BT-112
    paid_amount: Decimal  # BT-113
    rounding_amount: Decimal  # BT-114
    amount_due: Decimal  # BT-115
    breakdown: tuple[TaxSubtotal, ...] = field(default=())

    @property
    def tax_breakdown(self) -> list[dict[str, str]]:
        return [subtotal.as_json() for subtotal in self.breakdown]


def line_net(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    return money.quantize(quantity * unit_price, currency)


def rate_tax(taxable: Decimal, rate: Decimal, currency: str) -> Decimal:
    return money.quantize(taxable * rate / HUNDRED, currency)


def _fits(amount: Decimal, what: str) -> Decimal:
    if abs(amount) >= _MAX_AMOUNT:
        raise TooLarge(f"{what} would be {money.format_amount(amount)}: amounts must stay under 10^"
                       f"{money.MAX_INTEGER_DIGITS}")
    return amount


def compute(lines: Sequence[Line], currency: str, *, paid: Decimal = Decimal(0),
            rounding: Decimal = Decimal(0)) -> Totals:
    """The lines priced and the totals, by the rounding policy above. ValueError for no lines, a currency
    EN 16931 cannot carry (`supports`) or totals too large to store."""
    supports(currency)
    if not lines:
        raise ValueError("an invoice needs at least one line")
    priced = tuple(PricedLine(line.description, line.quantity, line.unit_price, line.tax_rate,
                              _fits(line_net(line.quantity, line.unit_price, currency), f"line {position}'s net"))
                   for position, line in enumerate(lines, start=1))
    taxable: dict[Decimal, Decimal] = {}
    for line in priced:
        rate = line.tax_rate.quantize(_RATE_PLACES)
        taxable[rate] = taxable.get(rate, Decimal(0)) + line.net_amount
    breakdown = tuple(TaxSubtotal(rate, amount, rate_tax(amount, rate, currency))
                      for rate, amount in sorted(taxable.items()))
    line_total = _fits(sum((line.net_amount for line in priced), Decimal(0)), "the total without tax")
    tax_total = sum((subtotal.tax_amount for subtotal in breakdown), Decimal(0))
    total_with_tax = _fits(line_total + tax_total, "the total with tax")
    paid, rounding = money.quantize(paid, currency), money.quantize(rounding, currency)
    return Totals(currency=currency, lines=priced, line_total=line_total, tax_total=tax_total,
                  total_with_tax=total_with_tax, paid_amount=paid, rounding_amount=rounding,
                  amount_due=total_with_tax - paid + rounding, breakdown=breakdown)


# --- checking stored values ------------------------------------------------------------------------------


class StoredLine(Protocol):
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    net_amount: Decimal


class StoredDocument(Protocol):
    currency: str
    line_total: Decimal
    tax_total: Decimal
    total_with_tax: Decimal
    paid_amount: Decimal
    rounding_amount: Decimal
    amount_due: Decimal
    tax_breakdown: list[Any]


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def check(document: StoredDocument, lines: Iterable[StoredLine]) -> list[str]:
    """The ids of the rules `document` and its `lines`, as stored, break (sorted; empty when it is sound)."""
    broken: set[str] = set()
    currency = document.currency
    try:
        supports(currency)
        places = money.minor_unit(currency)
    except ValueError:
        return ["BR-DEC"]

    def at_minor_unit(rule: str, amount: Decimal) -> None:
        if money.decimals_of(amount) > places:
            broken.add(rule)

    lines = list(lines)
    if not lines:
        broken.add("BR-16")
    nets_by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        at_minor_unit("BR-DEC-23", line.net_amount)
        if line.net_amount != line_net(line.quantity, line.unit_price, currency):
            broken.add("PEPPOL-EN16931-R120")
        rate = line.tax_rate.quantize(_RATE_PLACES)
        nets_by_rate[rate] = nets_by_rate.get(rate, Decimal(0)) + line.net_amount

    at_minor_unit("BR-DEC-09", document.line_total)
    if document.line_total != sum(nets_by_rate.values(), Decimal(0)):
        broken.add("BR-CO-10")

    breakdown = document.tax_breakdown or []
    if not breakdown:
        broken.add("BR-CO-18")
    tax_sum, rates_seen = Decimal(0), set()
    for entry in breakdown:
        values = entry if isinstance(entry, dict) else {}
        rate, taxable, tax = (_decimal(values.get(key)) for key in ("rate", "taxable_amount", "tax_amount"))
        if rate is None or taxable is None or tax is None:
            broken.add("BR-S-08")
            continue
        rate = rate.quantize(_RATE_PLACES)
        if rate in rates_seen or taxable != nets_by_rate.get(rate):
            broken.add("BR-S-08")
        rates_seen.add(rate)
        at_minor_unit("BR-DEC-19", taxable)
        at_minor_unit("BR-DEC-20", tax)
        if tax != rate_tax(taxable, rate, currency):
            broken.add("BR-CO-17")
        tax_sum += tax
    if rates_seen != set(nets_by_rate):
        broken.add("BR-S-08")

    at_minor_unit("BR-DEC-13", document.tax_total)
    if document.tax_total != tax_sum:
        broken.add("BR-CO-14")
    at_minor_unit("BR-DEC-14", document.total_with_tax)
    if document.total_with_tax != document.line_total + document.tax_total:
        broken.add("BR-CO-15")
    for rule, amount in (("BR-DEC-16", document.paid_amount), ("BR-DEC-17", document.rounding_amount),
                         ("BR-DEC-18", document.amount_due)):
        at_minor_unit(rule, amount)
    if document.amount_due != document.total_with_tax - document.paid_amount + document.rounding_amount:
        broken.add("BR-CO-16")
    return sorted(broken)
