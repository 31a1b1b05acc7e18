"""A tenant's `settings.coaching`: the thresholds the coaching agent's flags use, the rules its plan changes
keep to, and when the weekly review runs.

Checked on PATCH /api/v1/tenant (registered below), and again where it is read: a section stored before the
check existed fails the coaching run with `coaching_settings_invalid`, naming the field. The weekly schedule
reads it leniently (`schedule_of`): a broken section must not stop the reviews of a tenant, so it falls back
to the defaults there, as the database's scan does (app.coaching.schedule).
"""

import json
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.coaching.schemas import WEEKDAYS, Weekday
from app.core.errors import UnprocessableEntity
from app.models import Tenant
from app.tenants.sections import register_section

SECTION = "coaching"
# An hour as the database scan accepts it (the text of the JSON value).
_HOUR = re.compile(r"[01]?[0-9]|2[0-3]")


class ReadinessBands(BaseModel):
    """Bands of readiness against the client's own baseline, in points of the 0-100 score: a delta (the
    7-day average, or one day's score, minus the 28-day baseline) at or above `green_min_delta` is green, at
    or above `amber_min_delta` amber, below it red."""

    model_config = ConfigDict(extra="forbid")

    green_min_delta: int = Field(-5, ge=-100, le=0)
    amber_min_delta: int = Field(-15, ge=-100, le=0)

    @model_validator(mode="after")
    def _ordered(self) -> "ReadinessBands":
        if self.amber_min_delta > self.green_min_delta:
            raise ValueError("amber_min_delta must not be above green_min_delta: amber lies below green")
        return self


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Bound":
        if self.min > self.max:
            raise ValueError("min must not be above max")
        return self


class NutritionBounds(BaseModel):
    """The daily targets a proposed plan may set; a proposal outside them is brought back inside."""

    model_config = ConfigDict(extra="forbid")

    calories_kcal: Bound = Field(default_factory=lambda: Bound(min=1200, max=4000))
    protein_g: Bound = Field(default_factory=lambda: Bound(min=60, max=300))
    carbs_g: Bound = Field(default_factory=lambda: Bound(min=50, max=600))
    fat_g: Bound = Field(default_factory=lambda: Bound(min=30, max=200))


class CoachingSettings(BaseModel):
    """`settings.coaching`. Every key is optional."""

    model_config = ConfigDict(extra="forbid")

    adherence_threshold_pct: int = Field(70, ge=0, le=100,
                                         description="A week's average adherence below this is flagged")
    readiness: ReadinessBands = Field(default_factory=ReadinessBands)
    deload_red_days: int = Field(3, ge=1, le=7, description="Red days in a row that trigger a deload")
    max_weekly_volume_change_pct: int = Field(
        10, ge=0, le=50, description="The most a plan change may move the weekly training sets, in percent")
    nutrition: NutritionBounds = Field(default_factory=NutritionBounds)
    review_weekday: Weekday = Field("mon", description="The client-local weekday of the weekly review")
    review_hour: int = Field(7, ge=0, le=23, description="The client-local hour of the weekly review")

    def weekday_index(self) -> int:
        return WEEKDAYS.index(self.review_weekday)


register_section(SECTION, CoachingSettings)


def parse(settings: dict[str, Any]) -> CoachingSettings:
    """The tenant's coaching settings from its `settings`; 422 naming the field when they are invalid."""
    try:
        return CoachingSettings.model_validate(settings.get(SECTION) or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["settings", SECTION, *(str(part) for part in first["loc"])])
        raise UnprocessableEntity(f"{where}: {first['msg']}. Fix it with PATCH /api/v1/tenant.") from exc


def schedule_of(settings: dict[str, Any]) -> tuple[int, int]:
    """(weekday index 0 = Monday, hour) of the weekly review, read exactly as
    `maintenance_clients_due_for_review()` reads them (a weekday name; an hour whose JSON text is 0 to 23),
    the defaults for anything else, so the scan and the schedule never disagree about a tenant."""
    section = settings.get(SECTION)
    section = section if isinstance(section, dict) else {}
    defaults = CoachingSettings()
    weekday, hour = section.get("review_weekday"), section.get("review_hour")
    hour_text = hour if isinstance(hour, str) else json.dumps(hour)
    return (WEEKDAYS.index(weekday) if weekday in WEEKDAYS else defaults.weekday_index(),
            int(hour_text) if _HOUR.fullmatch(hour_text) else defaults.review_hour)


def coaching_settings(session: Session, tenant_id: uuid.UUID) -> CoachingSettings:
    return parse(session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id)) or {})
