import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.money import Amount, quantize
from app.deals.state import DealStage


class DealLead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str
    company: str | None
    status: str


class DealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    lead_id: uuid.UUID
    lead: DealLead
    package_id: uuid.UUID | None = Field(description="The price book item; null once that item was deleted")
    package_code: str
    currency: str
    list_price: Amount = Field(description="Copied from the price book when the proposal was made")
    amount: Amount = Field(description="What is currently proposed: the list price until a negotiation concedes")
    stage: DealStage
    proposal: dict[str, Any] | None = Field(description="The proposal as the reviewer approved (or edited) it")
    pipeline_id: uuid.UUID | None
    run_id: uuid.UUID | None = Field(description="The sales run that made the proposal")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _at_minor_unit(self) -> "DealOut":
        self.list_price = quantize(self.list_price, self.currency)
        self.amount = quantize(self.amount, self.currency)
        return self


class DealPage(BaseModel):
    items: list[DealOut]
    next_cursor: str | None
