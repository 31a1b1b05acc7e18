import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl, StringConstraints, TypeAdapter, ValidationError,
    model_validator,
)

from app.leads.state import LeadStatus
from app.tenants.schemas import validate_timezone


class LeadBucket(StrEnum):
    """The SDR agent's verdict, computed in code from its per-criterion judgements."""

    hot = "hot"
    warm = "warm"
    cold = "cold"
    disqualified = "disqualified"


def _lower(value: str) -> str:
    return value.lower()


def _upper(value: str) -> str:
    return value.upper()


_URL = TypeAdapter(HttpUrl)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _website(value: str) -> str:
    """A web address; a bare host (acme.com), as sales exports often have, is taken as https."""
    address = value if _SCHEME.match(value) else f"https://{value}"
    try:
        _URL.validate_python(address)
    except ValidationError:
        raise ValueError(f"'{value}' is not a web address (for example https://acme.com)") from None
    return address


def _text(max_length: int, min_length: int = 1):
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)]


Name = _text(200)
Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_lower)]
Company, Title = _text(200), _text(200)
Industry = _text(120)
CompanySize = Annotated[int, Field(ge=1, le=10_000_000)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper),
                    Field(description="ISO 3166-1 alpha-2 country code, e.g. DE")]
Timezone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(validate_timezone),
                     Field(description="IANA time zone, e.g. Europe/Berlin")]
Website = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=490),
                    AfterValidator(_website)]
Source = _text(64)
Notes = _text(10_000, min_length=0)

# The fields a person (or a CSV column) may set. Status moves only through the life cycle (PATCH).
LEAD_FIELDS = ("name", "email", "company", "title", "industry", "company_size", "country", "timezone", "website",
               "source", "notes")
REQUIRED_FIELDS = ("name", "email")


class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email
    company: Company | None = None
    title: Title | None = None
    industry: Industry | None = None
    company_size: CompanySize | None = None
    country: Country | None = None
    timezone: Timezone | None = None
    website: Website | None = None
    source: Source | None = None
    notes: Notes | None = None


class LeadPatch(BaseModel):
    """Only the fields sent change; `null` clears an optional field. `status` moves the lead along its life
    cycle (new → qualified | disqualified → contacted → proposal → won | lost); any other move is 409."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    company: Company | None = None
    title: Title | None = None
    industry: Industry | None = None
    company_size: CompanySize | None = None
    country: Country | None = None
    timezone: Timezone | None = None
    website: Website | None = None
    source: Source | None = None
    notes: Notes | None = None
    status: LeadStatus | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> "LeadPatch":
        for field in (*REQUIRED_FIELDS, "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.model_fields_set if field != "status"}


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str
    company: str | None
    title: str | None
    industry: str | None
    company_size: int | None
    country: str | None
    timezone: str | None
    website: str | None
    source: str | None
    notes: str | None
    status: LeadStatus
    score: int | None = Field(description="0-100, from the SDR agent's qualification")
    bucket: LeadBucket | None
    qualification: dict[str, Any] | None = Field(description="The SDR agent's per-criterion judgements")
    created_at: datetime
    updated_at: datetime


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None


class RowError(BaseModel):
    field: str
    message: str


class ImportRowResult(BaseModel):
    row: int = Field(description="The record's number in the file, the header being row 1")
    status: Literal["created", "updated", "error"]
    lead_id: uuid.UUID | None
    errors: list[RowError] = []


class LeadImportResult(BaseModel):
    created: int
    updated: int
    failed: int
    rows: list[ImportRowResult]
