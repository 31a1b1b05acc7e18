import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.money import Amount, quantize


class ContractOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    deal_id: uuid.UUID
    lead_id: uuid.UUID | None
    parties: dict[str, Any] = Field(description="seller and buyer, as on the invoice")
    package_code: str
    price: Amount = Field(description="The deal's agreed amount per billing period, checked against the deal")
    currency: str
    term_months: int
    payment_terms: str = Field(description="How often the client is billed and when each invoice is due")
    summary: str = Field(description="Written by the model; its stated price, currency and term checked by code")
    run_id: uuid.UUID | None = Field(description="The finance run that wrote it")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _at_minor_unit(self) -> "ContractOut":
        self.price = quantize(self.price, self.currency)
        return self


class ContractPage(BaseModel):
    items: list[ContractOut]
    next_cursor: str | None
