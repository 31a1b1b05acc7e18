import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


def validate_timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"'{value}' is not an IANA time zone (for example Europe/Berlin)")
    return value


class TenantCreate(BaseModel):
    """A new tenant and its first owner, as `python -m app tenants create` takes them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    admin_email: EmailStr
    admin_password: str = Field(min_length=12, max_length=1024)
    timezone: str = "UTC"
    slug: str | None = Field(None, max_length=80, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")

    _tz = field_validator("timezone")(lambda cls, v: validate_timezone(v))


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    timezone: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TenantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    timezone: str | None = None
    settings: dict[str, Any] | None = Field(
        None, description="Merged into the current settings; a key set to null is removed."
    )

    _tz = field_validator("timezone")(lambda cls, v: v if v is None else validate_timezone(v))
