import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.leads.schemas import Company, Email, Name, Timezone


class ClientStatus(StrEnum):
    """Where a client stands: coached (`active`), on a break (`paused`) or gone (`ended`). Any status may
    follow any other: a client who ended may come back."""

    active = "active"
    paused = "paused"
    ended = "ended"


Goal = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
CLIENT_FIELDS = ("name", "email", "company", "timezone", "goal", "start_date", "coach_id", "status")


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email | None = None
    company: Company | None = None
    timezone: Timezone | None = Field(None, description="IANA time zone; the tenant's when left out")
    goal: Goal | None = None
    start_date: date | None = None
    coach_id: uuid.UUID | None = Field(None, description="A user of the tenant who coaches the client")
    status: ClientStatus = ClientStatus.active
    lead_id: uuid.UUID | None = Field(None, description="The lead the client came from; one client per lead")


class ClientPatch(BaseModel):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    company: Company | None = None
    timezone: Timezone | None = None
    goal: Goal | None = None
    start_date: date | None = None
    coach_id: uuid.UUID | None = None
    status: ClientStatus | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> "ClientPatch":
        for field in ("name", "timezone", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.model_fields_set}


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    lead_id: uuid.UUID | None
    deal_id: uuid.UUID | None = Field(description="The won deal that made the client, if one did")
    name: str
    email: str | None
    company: str | None
    timezone: str
    goal: str | None
    start_date: date | None
    coach_id: uuid.UUID | None
    status: ClientStatus
    created_at: datetime
    updated_at: datetime


class ClientPage(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None
