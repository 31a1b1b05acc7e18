"""A tenant's `settings.finance`: who sells, the tax rate, payment terms and how documents are numbered.

Checked on PATCH /api/v1/tenant (registered below), and again where it is read: an invalid section that was
stored before the check existed fails the finance run with `finance_settings_invalid`, naming the field."""

import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import money
from app.core.errors import UnprocessableEntity
from app.invoices.en16931 import format_rate
from app.models import Tenant
from app.tenants.sections import register_section

SECTION = "finance"
YEAR = "{year}"
# Letters, digits and the separators invoice numbers use; `{year}` is the only placeholder.
_PREFIX = re.compile(r"^[A-Za-z0-9/_.#-]*$")
# Germany's standard VAT rate: the demo and its price book sell in EUR to German companies. Every tenant
# sets its own; a reviewer sees the tax on every invoice before it is issued.
DEFAULT_TAX_RATE = Decimal("19.00")


def _rate(value: Any) -> Decimal:
    """A tax rate in percent: 0 to 100, at most two decimals, as a string or an integer (a float has already
    lost its exact value: 0.07 is not 0.07)."""
    rate = money.parse_amount(value)
    if not Decimal(0) <= rate <= Decimal(100):
        raise ValueError(f"a tax rate is a percentage from 0 to 100, not {money.format_amount(rate)}")
    if money.decimals_of(rate) > 2:
        raise ValueError(f"a tax rate has at most two decimals ({money.format_amount(rate)})")
    return rate.quantize(Decimal("0.01"))


TaxRate = Annotated[Decimal, BeforeValidator(_rate), PlainSerializer(format_rate, return_type=str, when_used="json"),
                    Field(description="Percent, as a string: \"19.00\"")]


def _prefix(value: Any) -> Any:
    if isinstance(value, str) and not _PREFIX.fullmatch(value.replace(YEAR, "")):
        raise ValueError("a number prefix may hold letters, digits, '-', '/', '_', '.', '#' and the placeholder "
                         "{year}, nothing else")
    return value


Prefix = Annotated[str, Field(min_length=1, max_length=40), BeforeValidator(_prefix)]


class Seller(BaseModel):
    """The seller on every invoice (EN 16931 BG-4). Without a name, the tenant's name is used."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    address: str | None = Field(None, max_length=500)
    vat_id: str | None = Field(None, max_length=40, description="VAT identifier (BT-31), e.g. DE123456789")
    email: str | None = Field(None, max_length=320)


class FinanceSettings(BaseModel):
    """`settings.finance`. Every key is optional."""

    model_config = ConfigDict(extra="forbid")

    seller: Seller = Field(default_factory=Seller)
    tax_rate: TaxRate = DEFAULT_TAX_RATE
    payment_terms_days: int = Field(14, ge=0, le=365, description="Days from the issue date to the due date")
    invoice_prefix: Prefix = "INV-{year}-"
    credit_note_prefix: Prefix = "CN-{year}-"
    number_digits: int = Field(5, ge=1, le=10, description="Numbers are zero-padded to this many digits")
    # What the finance agent invoices for a won deal: its first billing period, or the whole term at once.
    invoice_schedule: Literal["first_period", "full_term"] = "first_period"
    default_term_months: int = Field(12, ge=1, le=120, description="A contract's term when the deal names none")

    @model_validator(mode="after")
    def _prefixes_differ(self) -> "FinanceSettings":
        if self.invoice_prefix == self.credit_note_prefix:
            raise ValueError("invoice_prefix and credit_note_prefix must differ: an invoice and a credit note "
                             "would carry the same number")
        return self

    def prefix(self, series: str) -> str:
        return self.invoice_prefix if series == "invoice" else self.credit_note_prefix


register_section(SECTION, FinanceSettings)


def parse(settings: dict[str, Any]) -> FinanceSettings:
    """The tenant's finance settings from its `settings`; 422 naming the field when they are invalid."""
    try:
        return FinanceSettings.model_validate(settings.get(SECTION) or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["settings", SECTION, *(str(part) for part in first["loc"])])
        raise UnprocessableEntity(f"{where}: {first['msg']}. Fix it with PATCH /api/v1/tenant.") from exc


def finance_settings(session: Session, tenant_id: uuid.UUID) -> FinanceSettings:
    return parse(session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id)) or {})
