import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def validate_timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"'{value}' is not an IANA time zone (for example Europe/Berlin)")
    return value


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
