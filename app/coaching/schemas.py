"""Coaching schemas: the typed plan (`PlanContent`, what every plan version holds), check-ins in and out,
plans and their versions, plan changes and coaching cards."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- the plan ---------------------------------------------------------------------------------


class Session(BaseModel):
    """One training session of the week."""

    model_config = ConfigDict(extra="forbid")

    day: Weekday
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    duration_minutes: int = Field(ge=10, le=240)
    sets: int = Field(ge=0, le=60, description="Working sets in the session: the training volume")


class Nutrition(BaseModel):
    """Daily nutrition targets."""

    model_config = ConfigDict(extra="forbid")

    calories_kcal: int = Field(ge=1000, le=6000)
    protein_g: int = Field(ge=0, le=400)
    carbs_g: int = Field(ge=0, le=900)
    fat_g: int = Field(ge=0, le=300)


class PlanContent(BaseModel):
    """A client's plan as one version holds it: training, cardio, nutrition targets and the days a check-in
    is expected."""

    model_config = ConfigDict(extra="forbid")

    training_days_per_week: int = Field(ge=0, le=7)
    sessions: list[Session] = Field(default_factory=list, max_length=21)
    cardio_minutes_per_week: int = Field(ge=0, le=1500)
    nutrition: Nutrition
    check_in_days: list[Weekday] = Field(min_length=1, max_length=7,
                                         description="The weekdays a check-in is expected (unique)")

    @field_validator("check_in_days")
    @classmethod
    def _unique_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("check_in_days must not repeat a day")
        return days

    def weekly_sets(self) -> int:
        """The week's training volume: the sum of the sessions' sets (what the plan-change rules bound)."""
        return sum(session.sets for session in self.sessions)


# --- check-ins --------------------------------------------------------------------------------

Scale = Annotated[int, Field(ge=1, le=5)]
Percent = Annotated[int, Field(ge=0, le=100)]


class CheckInIn(BaseModel):
    """One check-in for a client-local day; every measure is optional, each within its range."""

    model_config = ConfigDict(extra="forbid")

    day: date = Field(description="The client's local date")
    weight_kg: Decimal | None = Field(None, gt=0, lt=500, max_digits=5, decimal_places=2)
    sleep_hours: Decimal | None = Field(None, ge=0, le=24, max_digits=4, decimal_places=2)
    sleep_quality: Scale | None = None
    stress: Scale | None = None
    mood: Scale | None = None
    soreness: Scale | None = None
    energy: Scale | None = None
    training_adherence_pct: Percent | None = None
    nutrition_adherence_pct: Percent | None = None
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None

    @field_validator("weight_kg", "sleep_hours")
    @classmethod
    def _as_stored(cls, value: Decimal | None) -> Decimal | None:
        """To the hundredth, as the database keeps it (a finer value was refused above), so that what a
        write answers is what a read answers."""
        return None if value is None else value.quantize(Decimal("0.01"))


CHECK_IN_FIELDS = tuple(CheckInIn.model_fields)


class CheckInOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: uuid.UUID
    day: date
    weight_kg: Decimal | None
    sleep_hours: Decimal | None
    sleep_quality: int | None
    stress: int | None
    mood: int | None
    soreness: int | None
    energy: int | None
    training_adherence_pct: int | None
    nutrition_adherence_pct: int | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class CheckInPage(BaseModel):
    items: list[CheckInOut]
    next_cursor: str | None


class ImportRowResult(BaseModel):
    """One row of a bulk import: `created`, `updated`, `unchanged` or `invalid` (with its errors; an invalid
    row writes nothing, the others stand)."""

    row: int
    day: date | None
    status: Literal["created", "updated", "unchanged", "invalid"]
    check_in_id: uuid.UUID | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    invalid: int
    rows: list[ImportRowResult]


# --- plans ------------------------------------------------------------------------------------


class PlanVersionSource(StrEnum):
    initial = "initial"
    manual = "manual"
    review = "review"


class PlanVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    content: PlanContent
    weekly_sets: int
    source: PlanVersionSource
    change_id: uuid.UUID | None
    created_by_type: str
    created_by_id: uuid.UUID | None
    created_at: datetime


class PlanOut(BaseModel):
    """A client's plan: its current version (the last approved one) with what it says."""

    id: uuid.UUID
    client_id: uuid.UUID
    current_version: int
    current: PlanVersionOut
    created_at: datetime
    updated_at: datetime


class PlanVersions(BaseModel):
    plan_id: uuid.UUID
    client_id: uuid.UUID
    current_version: int
    items: list[PlanVersionOut] = Field(description="Every version, the newest first")


class PlanPut(BaseModel):
    """A new version written by hand. `base_version` (or the `If-Match` header) is the version the edit was
    made from: if the plan has moved on since, the write is a 409. Left out (and no If-Match) for a client
    with no plan yet, it creates version 1."""

    model_config = ConfigDict(extra="forbid")

    content: PlanContent
    base_version: int | None = Field(None, ge=1)


# --- plan changes -----------------------------------------------------------------------------


class PlanChangeStatus(StrEnum):
    proposed = "proposed"
    applied = "applied"
    rejected = "rejected"
    stale = "stale"
    cancelled = "cancelled"


class PlanFieldChange(BaseModel):
    """One line of a plan change's diff: a field of the plan (a dotted path such as `nutrition.calories_kcal`
    or `sessions`), its value before and after, and why."""

    model_config = ConfigDict(extra="forbid")

    field: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    before: Any = None
    after: Any = None
    why: Annotated[str, StringConstraints(max_length=2000)] = ""


class PlanChangeContent(BaseModel):
    """What a reviewer of a `plan_change` may edit: the diff, the whole plan as it would be, and why."""

    model_config = ConfigDict(extra="forbid")

    changes: list[PlanFieldChange] = Field(max_length=100)
    proposed: PlanContent
    rationale: Annotated[str, StringConstraints(max_length=8000)] = ""


class PlanChangeReview(PlanChangeContent):
    """The proposal of a `plan_change` review: the editable content, and the client and plan version it was
    proposed for (both locked: an edit cannot move the change to another client or version)."""

    client_id: uuid.UUID
    base_version: int = Field(ge=1)


class PlanChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    client_id: uuid.UUID
    base_version: int
    changes: list[dict[str, Any]]
    proposed: dict[str, Any]
    rationale: str
    status: PlanChangeStatus
    applied_version: int | None
    run_id: uuid.UUID | None
    review_id: uuid.UUID | None = Field(None, description="The change's `plan_change` review")
    review_status: str | None = None
    created_at: datetime
    updated_at: datetime


# --- coaching cards ---------------------------------------------------------------------------


class CardSeverity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class CardIn(BaseModel):
    """A card as the coaching agent writes it (`record_cards(cards=[...])` takes these as dicts)."""

    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    severity: CardSeverity
    seen: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    action: Annotated[str, StringConstraints(max_length=4000)] = ""
    evidence: list[Any] = Field(default_factory=list, max_length=200,
                                description="The check-ins behind the card: ids and/or days")


class CoachingCardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: uuid.UUID
    run_id: uuid.UUID | None
    week: str
    kind: str
    severity: CardSeverity
    seen: str
    action: str
    evidence: list[Any]
    status: str
    created_at: datetime
    updated_at: datetime


class CoachingCardPage(BaseModel):
    items: list[CoachingCardOut]
    next_cursor: str | None


class CardPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["done", "dismissed"]
