import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.core.money import Amount, Currency, PositiveAmount, fits_sibling_currency, quantize


class BillingPeriod(StrEnum):
    one_time = "one_time"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"


def _lower(value: str) -> str:
    return value.lower()


Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
                 AfterValidator(_lower),
                 Field(description="Letters, digits, '.', '_' and '-', up to 64; unique in the tenant, any case "
                                   "(stored lower-cased)", examples=["growth-monthly"])]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class PriceBookItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    description: Description = ""
    currency: Currency
    list_price: PositiveAmount = Field(description="Greater than zero, with no more decimals than the currency's "
                                                   "minor unit (2 for EUR, 0 for JPY, 3 for KWD)")
    billing_period: BillingPeriod
    active: bool = True

    _fits = field_validator("list_price")(fits_sibling_currency)


class PriceBookItemPatch(BaseModel):
    """Only the fields sent change. A new price or currency is checked against the other's minor unit."""

    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None
    description: Description | None = None
    currency: Currency | None = None
    list_price: PositiveAmount | None = None
    billing_period: BillingPeriod | None = None
    active: bool | None = None

    _fits = field_validator("list_price")(fits_sibling_currency)

    @model_validator(mode="after")
    def _no_nulls(self) -> "PriceBookItemPatch":
        nulls = sorted(field for field in self.model_fields_set if getattr(self, field) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self

    def changes(self) -> dict:
        return {field: getattr(self, field) for field in self.model_fields_set}


class PriceBookItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    description: str
    currency: str
    list_price: Amount
    billing_period: BillingPeriod
    active: bool
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _at_minor_unit(self) -> "PriceBookItemOut":
        self.list_price = quantize(self.list_price, self.currency)
        return self


class PriceBookPage(BaseModel):
    items: list[PriceBookItemOut]
    next_cursor: str | None
