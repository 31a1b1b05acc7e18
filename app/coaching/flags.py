"""The coaching flags, computed by code from a client's check-ins: what the coaching agent's model explains
and never decides. Pure functions over plain values; every flag names the check-ins behind it (their ids and
days, or the days that have none).

- **Missed check-ins**: the days of the reviewed week on which the plan's `check_in_days` expected a check-in
  (from the client's start date) and none was recorded. Warning; critical when more than half are missing.
- **Low adherence** (training, nutrition): the week's average of the recorded percentages below the tenant's
  `adherence_threshold_pct`. Warning; critical when 20 points or more below it.
- **Readiness**: a 0-100 score per check-in (`readiness_score`), the week's average against the client's own
  baseline (the average of the 28 days before the week), banded by the delta: at or above
  `green_min_delta` green, at or above `amber_min_delta` amber, else red. Green is information, amber a
  warning, red critical. Without enough scored days (3 in the week, 7 in the baseline) there is no band.
- **Deload**: each scored day of the week is banded the same way (its score minus the baseline); when
  `deload_red_days` scored days in a row are red, a deload is triggered. A day without a check-in neither
  breaks the run nor counts towards it: a missed check-in is no sign of recovery.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.coaching.schemas import WEEKDAYS, Weekday
from app.coaching.settings import CoachingSettings, ReadinessBands
from app.models import CheckIn

BASELINE_DAYS = 28
MIN_WEEK_SCORES = 3
MIN_BASELINE_SCORES = 7
# A day's readiness needs at least this many of its six measures.
MIN_MEASURES = 4
CRITICAL_ADHERENCE_GAP = 20
TENTH = Decimal("0.1")


class Band(StrEnum):
    green = "green"
    amber = "amber"
    red = "red"


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class Day(BaseModel):
    """What the flags read of one check-in."""

    model_config = ConfigDict(frozen=True)

    check_in_id: uuid.UUID | None = None
    day: date
    sleep_hours: Decimal | None = None
    sleep_quality: int | None = None
    stress: int | None = None
    mood: int | None = None
    soreness: int | None = None
    energy: int | None = None
    training_adherence_pct: int | None = None
    nutrition_adherence_pct: int | None = None
    weight_kg: Decimal | None = None

    @classmethod
    def of(cls, check_in: CheckIn) -> "Day":
        return cls(check_in_id=check_in.id, day=check_in.day, sleep_hours=check_in.sleep_hours,
                   sleep_quality=check_in.sleep_quality, stress=check_in.stress, mood=check_in.mood,
                   soreness=check_in.soreness, energy=check_in.energy,
                   training_adherence_pct=check_in.training_adherence_pct,
                   nutrition_adherence_pct=check_in.nutrition_adherence_pct, weight_kg=check_in.weight_kg)


class Evidence(BaseModel):
    """A check-in behind a flag (`check_in_id` None: the day has none) and the value the flag read of it."""

    day: date
    check_in_id: uuid.UUID | None
    value: Decimal | int | None = None


def weekday_of(day: date) -> Weekday:
    return WEEKDAYS[day.weekday()]


def days_between(first_day: date, last_day: date) -> list[date]:
    return [first_day + timedelta(days=offset) for offset in range((last_day - first_day).days + 1)]


def average(values: Iterable[Decimal | int]) -> Decimal | None:
    """The mean to one decimal, half up; None for no values."""
    numbers = [Decimal(value) for value in values]
    if not numbers:
        return None
    return (sum(numbers, Decimal(0)) / len(numbers)).quantize(TENTH, rounding=ROUND_HALF_UP)


# --- missed check-ins ----------------------------------------------------------------------------


class MissedCheckIns(BaseModel):
    kind: Literal["missed_check_ins"] = "missed_check_ins"
    severity: Severity
    expected: list[date]
    missed: list[date]
    evidence: list[Evidence]


def missed_check_ins(days: Sequence[Day], check_in_days: Sequence[Weekday], first_day: date, last_day: date,
                     *, start_date: date | None = None) -> MissedCheckIns | None:
    """The days in first_day..last_day that the plan expected a check-in on (none before the client's start)
    and that have none; None when nothing is missing."""
    recorded = {day.day for day in days}
    expected = [day for day in days_between(max(first_day, start_date or first_day), last_day)
                if weekday_of(day) in check_in_days]
    missed = [day for day in expected if day not in recorded]
    if not missed:
        return None
    severity = Severity.critical if 2 * len(missed) > len(expected) else Severity.warning
    return MissedCheckIns(severity=severity, expected=expected, missed=missed,
                          evidence=[Evidence(day=day, check_in_id=None) for day in missed])


# --- adherence -----------------------------------------------------------------------------------


class LowAdherence(BaseModel):
    kind: Literal["low_adherence"] = "low_adherence"
    area: Literal["training", "nutrition"]
    severity: Severity
    average_pct: Decimal
    threshold_pct: int
    evidence: list[Evidence]


def low_adherence(days: Sequence[Day], area: Literal["training", "nutrition"],
                  threshold_pct: int) -> LowAdherence | None:
    """The average of the recorded `<area>_adherence_pct` values when it is below the threshold; None when it
    is not, or when nothing was recorded (the missed check-ins say that)."""
    field = f"{area}_adherence_pct"
    evidence = [Evidence(day=day.day, check_in_id=day.check_in_id, value=getattr(day, field))
                for day in sorted(days, key=lambda day: day.day) if getattr(day, field) is not None]
    mean = average(item.value for item in evidence if item.value is not None)
    if mean is None or mean >= threshold_pct:
        return None
    severity = Severity.critical if mean <= threshold_pct - CRITICAL_ADHERENCE_GAP else Severity.warning
    return LowAdherence(area=area, severity=severity, average_pct=mean, threshold_pct=threshold_pct,
                        evidence=evidence)


# --- readiness -----------------------------------------------------------------------------------

# (weight, how a value maps to 0..1): sleep counts 30 (hours and quality), stress and soreness 20 each (a
# high value is worse), mood and energy 15 each.
READINESS_WEIGHTS: dict[str, int] = {"sleep_hours": 15, "sleep_quality": 15, "stress": 20, "soreness": 20,
                                     "mood": 15, "energy": 15}


def _component(name: str, value: Decimal | int) -> Decimal:
    """A measure on 0..1, 1 the best: sleep hours from 4 h (0) to 8 h (1), clamped; a 1-5 scale linearly,
    reversed for stress and soreness."""
    value = Decimal(value)
    if name == "sleep_hours":
        return min(Decimal(1), max(Decimal(0), (value - 4) / 4))
    if name in ("stress", "soreness"):
        return (5 - value) / 4
    return (value - 1) / 4


def readiness_score(day: Day) -> int | None:
    """0-100: `round_half_up(100 × Σ weight × component / Σ weight)` over the measures the check-in has
    (`READINESS_WEIGHTS`, `_component`); None with fewer than `MIN_MEASURES` of the six."""
    present = {name: getattr(day, name) for name in READINESS_WEIGHTS if getattr(day, name) is not None}
    if len(present) < MIN_MEASURES:
        return None
    total = sum(READINESS_WEIGHTS[name] for name in present)
    earned = sum((READINESS_WEIGHTS[name] * _component(name, value) for name, value in present.items()), Decimal(0))
    return int((100 * earned / total).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def band_of(delta: Decimal, bands: ReadinessBands) -> Band:
    if delta >= bands.green_min_delta:
        return Band.green
    if delta >= bands.amber_min_delta:
        return Band.amber
    return Band.red


SEVERITY_OF_BAND = {Band.green: Severity.info, Band.amber: Severity.warning, Band.red: Severity.critical}


class DayReadiness(BaseModel):
    day: date
    check_in_id: uuid.UUID | None
    score: int
    delta: Decimal | None
    band: Band | None


class Readiness(BaseModel):
    """The week's readiness against the client's baseline. `band` None: too few scored days (`reason`)."""

    kind: Literal["readiness"] = "readiness"
    band: Band | None
    severity: Severity
    average_7d: Decimal | None
    baseline_28d: Decimal | None
    delta: Decimal | None
    week_scores: int
    baseline_scores: int
    reason: str | None
    days: list[DayReadiness]
    evidence: list[Evidence]


def scored(days: Iterable[Day]) -> list[tuple[Day, int]]:
    """The check-ins that have a readiness score, oldest first, with it."""
    pairs = [(day, readiness_score(day)) for day in sorted(days, key=lambda day: day.day)]
    return [(day, score) for day, score in pairs if score is not None]


def readiness(week: Sequence[Day], baseline: Sequence[Day], bands: ReadinessBands) -> Readiness:
    """The week's average readiness against the baseline's, in bands; each day of the week banded too."""
    week_scored, baseline_scored = scored(week), scored(baseline)
    week_average = average(score for _, score in week_scored)
    base = average(score for _, score in baseline_scored) if len(baseline_scored) >= MIN_BASELINE_SCORES else None
    days = [DayReadiness(day=day.day, check_in_id=day.check_in_id, score=score,
                         delta=None if base is None else Decimal(score) - base,
                         band=None if base is None else band_of(Decimal(score) - base, bands))
            for day, score in week_scored]
    evidence = [Evidence(day=day.day, check_in_id=day.check_in_id, value=day.score) for day in days]
    reason = None
    if base is None:
        reason = (f"{len(baseline_scored)} scored check-ins in the 28 days before the week; a baseline needs "
                  f"{MIN_BASELINE_SCORES}")
    elif len(week_scored) < MIN_WEEK_SCORES:
        reason = f"{len(week_scored)} scored check-ins in the week; a trend needs {MIN_WEEK_SCORES}"
    if reason is not None or week_average is None or base is None:
        return Readiness(band=None, severity=Severity.info, average_7d=week_average, baseline_28d=base, delta=None,
                         week_scores=len(week_scored), baseline_scores=len(baseline_scored), reason=reason,
                         days=days, evidence=evidence)
    delta = week_average - base
    band = band_of(delta, bands)
    return Readiness(band=band, severity=SEVERITY_OF_BAND[band], average_7d=week_average, baseline_28d=base,
                     delta=delta, week_scores=len(week_scored), baseline_scores=len(baseline_scored), reason=None,
                     days=days, evidence=evidence)


class Deload(BaseModel):
    kind: Literal["deload"] = "deload"
    severity: Severity = Severity.critical
    red_days_in_a_row: int
    required: int
    evidence: list[Evidence]


def deload_trigger(days: Sequence[DayReadiness], red_days: int) -> Deload | None:
    """The longest run of red days (days without a score skipped) when it is `red_days` long or longer."""
    longest: list[DayReadiness] = []
    current: list[DayReadiness] = []
    for day in sorted(days, key=lambda day: day.day):
        current = [*current, day] if day.band is Band.red else []
        if len(current) > len(longest):
            longest = current
    if len(longest) < red_days:
        return None
    return Deload(red_days_in_a_row=len(longest), required=red_days,
                  evidence=[Evidence(day=day.day, check_in_id=day.check_in_id, value=day.score) for day in longest])


# --- all of them ---------------------------------------------------------------------------------


class Flags(BaseModel):
    """Everything code found in one week of a client's check-ins."""

    first_day: date
    last_day: date
    check_ins: int
    missed: MissedCheckIns | None
    adherence: list[LowAdherence]
    readiness: Readiness
    deload: Deload | None

    def raised(self) -> list[MissedCheckIns | LowAdherence | Readiness | Deload]:
        """The flags that ask the coach for something (warning or critical), most severe first."""
        found = [flag for flag in (self.deload, self.readiness, self.missed, *self.adherence)
                 if flag is not None and flag.severity is not Severity.info]
        return sorted(found, key=lambda flag: flag.severity is not Severity.critical)

    @property
    def steady(self) -> bool:
        """Nothing raised: the plan is working and stays as it is."""
        return not self.raised()


def compute(week: Sequence[Day], baseline: Sequence[Day], *, check_in_days: Sequence[Weekday], first_day: date,
            last_day: date, settings: CoachingSettings, start_date: date | None = None) -> Flags:
    """The flags of the week first_day..last_day; `baseline` are the check-ins of the 28 days before it."""
    trend = readiness(week, baseline, settings.readiness)
    return Flags(
        first_day=first_day, last_day=last_day, check_ins=len(week),
        missed=missed_check_ins(week, check_in_days, first_day, last_day, start_date=start_date),
        adherence=[flag for flag in (low_adherence(week, "training", settings.adherence_threshold_pct),
                                     low_adherence(week, "nutrition", settings.adherence_threshold_pct))
                   if flag is not None],
        readiness=trend, deload=deload_trigger(trend.days, settings.deload_red_days))
