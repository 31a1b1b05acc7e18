import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints, model_validator

from app.core import money
from app.core.money import Amount, Currency, NonNegativeAmount, PositiveAmount
from app.invoices.settings import TaxRate
from app.invoices.state import InvoiceStatus

QUANTITY_DECIMALS = 4


def parse_quantity(value: Any) -> Decimal:
    """A quantity: greater than zero, at most four decimals, a string or an integer."""
    quantity = money.parse_amount(value)
    if quantity <= 0:
        raise ValueError(f"a quantity must be greater than zero, not {money.format_amount(quantity)}")
    return quantity


def format_quantity(quantity: Decimal) -> str:
    """Without trailing zeros: a stored 1.0000 is "1", 2.5000 is "2.5"."""
    return money.format_amount(quantity.normalize())


Quantity = Annotated[Decimal, BeforeValidator(parse_quantity),
                     PlainSerializer(format_quantity, return_type=str, when_used="json"),
                     Field(description=f"Greater than zero, at most {QUANTITY_DECIMALS} decimals, as a string")]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Memo = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
PaymentTermsDays = Annotated[int, Field(ge=0, le=365, description="Days from the issue date to the due date")]


class LineIn(BaseModel):
    """A line to invoice. Its net amount is computed (quantity × unit price, rounded half up to the currency's
    minor unit), never given."""

    model_config = ConfigDict(extra="forbid")

    description: Description
    quantity: Quantity
    unit_price: NonNegativeAmount = Field(description="The net price of one unit (BT-146), up to four decimals")
    tax_rate: TaxRate


class LineOut(BaseModel):
    position: int
    description: str
    quantity: Quantity
    unit_price: Amount
    tax_rate: TaxRate
    net_amount: Amount


class TaxSubtotalOut(BaseModel):
    """One rate of the tax breakdown (EN 16931 BG-23)."""

    rate: TaxRate
    taxable_amount: Amount
    tax_amount: Amount


class CreditNoteRef(BaseModel):
    id: uuid.UUID
    number: str
    total_with_tax: Amount
    issued_at: datetime


class InvoiceOut(BaseModel):
    """An invoice with its totals (EN 16931: line_total BT-106/109, tax_total BT-110, total_with_tax BT-112,
    paid_amount BT-113, rounding_amount BT-114, amount_due BT-115). Money as strings."""

    id: uuid.UUID
    status: InvoiceStatus
    number: str | None = Field(description="Given when the invoice is issued; a draft has none")
    currency: str
    issue_date: date | None
    due_date: date | None
    seller: dict[str, Any]
    buyer: dict[str, Any]
    memo: str
    deal_id: uuid.UUID | None
    contract_id: uuid.UUID | None
    client_id: uuid.UUID | None
    pipeline_id: uuid.UUID | None
    run_id: uuid.UUID | None
    line_total: Amount
    tax_total: Amount
    total_with_tax: Amount
    paid_amount: Amount
    rounding_amount: Amount
    amount_due: Amount
    tax_breakdown: list[TaxSubtotalOut]
    credited_total: Amount = Field(description="The sum of its credit notes, tax included")
    left_to_credit: Amount = Field(description="total_with_tax − credited_total")
    issued_at: datetime | None
    created_at: datetime
    updated_at: datetime


class InvoiceDetail(InvoiceOut):
    lines: list[LineOut]
    credit_notes: list[CreditNoteRef]


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    next_cursor: str | None


class CreditLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=1, description="The invoice line's position")
    quantity: Quantity | None = Field(None, description="How much of the line to credit; what is left of it "
                                                        "when left out")


class CreditNoteCreate(BaseModel):
    """A credit note by lines (some or all of the invoice's lines, at their price and rate) or by amount (a
    net amount at one of the invoice's tax rates; the rate may be left out when the invoice has only one)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    lines: list[CreditLineIn] | None = Field(None, min_length=1, max_length=500)
    amount: PositiveAmount | None = Field(None, description="A net amount (without tax) to credit")
    tax_rate: TaxRate | None = None

    @model_validator(mode="after")
    def _lines_or_amount(self) -> "CreditNoteCreate":
        if (self.lines is None) == (self.amount is None):
            raise ValueError("give either lines or amount (one of them, not both)")
        if self.lines is not None and self.tax_rate is not None:
            raise ValueError("tax_rate goes with amount: credited lines keep their own rate")
        if self.lines is not None:
            positions = [line.position for line in self.lines]
            if len(set(positions)) != len(positions):
                raise ValueError("each invoice line may be named once")
        return self


class CreditNoteLineOut(BaseModel):
    position: int | None = Field(description="The credited invoice line; null for a credit by amount")
    description: str
    quantity: Quantity
    unit_price: Amount
    tax_rate: TaxRate
    net_amount: Amount


class CreditNoteOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    number: str
    reason: str
    currency: str
    lines: list[CreditNoteLineOut]
    line_total: Amount
    tax_total: Amount
    total_with_tax: Amount
    tax_breakdown: list[TaxSubtotalOut]
    issued_at: datetime
    created_by_type: str
    created_by_id: uuid.UUID | None
    created_at: datetime


class CreditNotePage(BaseModel):
    items: list[CreditNoteOut]
    next_cursor: str | None


class ReviewLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    quantity: Quantity
    unit_price: Amount
    tax_rate: TaxRate
    net_amount: Amount


class InvoiceReviewContent(BaseModel):
    """What a reviewer sees in an `invoice` review. Only `memo` and `payment_terms_days` may be edited: the
    lines and totals are computed in code and locked."""

    model_config = ConfigDict(extra="forbid")

    currency: Currency
    seller: dict[str, Any]
    buyer: dict[str, Any]
    lines: list[ReviewLine] = Field(min_length=1)
    line_total: Amount
    tax_total: Amount
    total_with_tax: Amount
    amount_due: Amount
    tax_breakdown: list[TaxSubtotalOut] = Field(min_length=1)
    memo: Memo
    payment_terms_days: PaymentTermsDays


EDITABLE_REVIEW_FIELDS = frozenset({"memo", "payment_terms_days"})
LOCKED_REVIEW_FIELDS = frozenset(InvoiceReviewContent.model_fields) - EDITABLE_REVIEW_FIELDS
