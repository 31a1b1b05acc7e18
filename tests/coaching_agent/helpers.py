"""Check-in profiles for the coaching agent's tests: a steady client, and one who misses check-ins while their
readiness falls. Readiness of the profiles (app.coaching.flags.readiness_score): GOOD 77, TIRED 25."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.coaching.flags import Day

# 7.5 h of sleep, quality 4, stress 2, soreness 2, mood 4, energy 4: readiness 77.
GOOD: dict[str, Any] = {"sleep_hours": Decimal("7.5"), "sleep_quality": 4, "stress": 2, "soreness": 2, "mood": 4,
                        "energy": 4, "training_adherence_pct": 90, "nutrition_adherence_pct": 85,
                        "weight_kg": Decimal("72.40")}
# 5 h of sleep, quality 2, stress 4, soreness 4, mood 2, energy 2: readiness 25.
TIRED: dict[str, Any] = {**GOOD, "sleep_hours": Decimal("5"), "sleep_quality": 2, "stress": 4, "soreness": 4, "mood": 2,
                         "energy": 2, "training_adherence_pct": 50, "nutrition_adherence_pct": 60}

PLAN: dict[str, Any] = {
    "training_days_per_week": 3,
    "sessions": [{"day": "mon", "name": "Lower", "duration_minutes": 60, "sets": 16},
                 {"day": "wed", "name": "Upper", "duration_minutes": 60, "sets": 16},
                 {"day": "fri", "name": "Full body", "duration_minutes": 75, "sets": 18}],
    "cardio_minutes_per_week": 90,
    "nutrition": {"calories_kcal": 2400, "protein_g": 160, "carbs_g": 260, "fat_g": 80},
    "check_in_days": ["mon", "wed", "fri", "sun"],
}

MONDAY = date(2026, 3, 2)  # 2026-W10


def days(first: date, count: int, **values: Any) -> list[Day]:
    return [Day(day=first + timedelta(days=offset), **{**GOOD, **values}) for offset in range(count)]


def steady_history(monday: date) -> dict[date, dict[str, Any]]:
    """A check-in every day of the 28 days before the week and of the week, all GOOD."""
    return {monday - timedelta(days=28) + timedelta(days=offset): GOOD for offset in range(35)}


def falling_history(monday: date) -> dict[date, dict[str, Any]]:
    """GOOD for the 28 days before the week; in the week Monday GOOD, Tuesday and Thursday to Saturday TIRED,
    nothing on Wednesday or Sunday (both expected by PLAN)."""
    history = {monday - timedelta(days=28) + timedelta(days=offset): GOOD for offset in range(28)}
    history[monday] = GOOD
    for offset in (1, 3, 4, 5):
        history[monday + timedelta(days=offset)] = TIRED
    return history
