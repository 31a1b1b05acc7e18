import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SuppressionKind = Literal["email", "domain"]


def normalise_email(value: str) -> str:
    """An address as the suppression list compares it: validated, lower-cased (ValueError otherwise)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not an email address: {exc}") from None


def normalise_domain(value: str) -> str:
    """A domain as the suppression list compares it (a leading @ is dropped), validated, lower-cased."""
    domain = value.strip().removeprefix("@")
    try:
        return validate_email(f"postmaster@{domain}", check_deliverability=False).domain.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not a domain name: {str(exc).replace('after the @-sign ', '')}") from None


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SuppressionKind = Field(description="email: one address; domain: every address at it and its subdomains")
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _normalised(self) -> "SuppressionCreate":
        self.value = normalise_email(self.value) if self.kind == "email" else normalise_domain(self.value)
        return self


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: SuppressionKind
    value: str
    reason: str | None
    created_by_type: str
    created_by_id: uuid.UUID | None
    created_at: datetime


class SuppressionPage(BaseModel):
    items: list[SuppressionOut]
    next_cursor: str | None
