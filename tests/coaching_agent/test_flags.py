"""The coaching flags as plain functions: missed check-ins, low adherence, the readiness score and its bands
against the client's baseline, the deload trigger; each naming the check-ins behind it."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.coaching import flags
from app.coaching.flags import Band, Day, DayReadiness, Severity
from app.coaching.settings import CoachingSettings, ReadinessBands
from tests.coaching_agent.helpers import GOOD, MONDAY, PLAN, TIRED, days, falling_history, steady_history

SUNDAY = MONDAY + timedelta(days=6)
BANDS = ReadinessBands()


def _split(history: dict[date, dict]) -> tuple[list[Day], list[Day]]:
    all_days = [Day(check_in_id=uuid.uuid4(), day=day, **values) for day, values in sorted(history.items())]
    return [d for d in all_days if d.day >= MONDAY], [d for d in all_days if d.day < MONDAY]


def _compute(history: dict[date, dict], **settings) -> flags.Flags:
    week, baseline = _split(history)
    return flags.compute(week, baseline, check_in_days=PLAN["check_in_days"], first_day=MONDAY, last_day=SUNDAY,
                         settings=CoachingSettings(**settings))


# --- missed check-ins ----------------------------------------------------------------------------


def test_missed_check_ins_are_the_expected_days_without_one():
    recorded = [Day(day=MONDAY), Day(day=MONDAY + timedelta(days=1)), Day(day=MONDAY + timedelta(days=4))]

    missed = flags.missed_check_ins(recorded, ["mon", "wed", "fri", "sun"], MONDAY, SUNDAY)

    assert missed.expected == [MONDAY, date(2026, 3, 4), date(2026, 3, 6), SUNDAY]
    assert missed.missed == [date(2026, 3, 4), SUNDAY]  # Tuesday was not expected, Friday was recorded
    assert [(item.day, item.check_in_id) for item in missed.evidence] == [(date(2026, 3, 4), None), (SUNDAY, None)]
    assert missed.severity is Severity.warning  # two of four: not more than half


def test_more_than_half_missing_is_critical_and_none_missing_is_no_flag():
    assert flags.missed_check_ins([Day(day=MONDAY)], ["mon", "wed", "fri"], MONDAY, SUNDAY).severity is Severity.critical
    assert flags.missed_check_ins(days(MONDAY, 7), ["mon", "wed", "fri"], MONDAY, SUNDAY) is None


def test_days_before_the_client_started_are_not_expected():
    missed = flags.missed_check_ins([], ["mon", "wed", "fri", "sun"], MONDAY, SUNDAY, start_date=date(2026, 3, 5))

    assert missed.expected == [date(2026, 3, 6), SUNDAY]


# --- adherence -----------------------------------------------------------------------------------


def test_low_adherence_is_the_weeks_average_below_the_threshold_with_its_check_ins():
    week = [Day(check_in_id=uuid.uuid4(), day=MONDAY + timedelta(days=i), training_adherence_pct=pct)
            for i, pct in enumerate([80, 60, None, 55])]

    low = flags.low_adherence(week, "training", 70)

    assert (low.area, low.average_pct, low.threshold_pct, low.severity) == ("training", Decimal("65.0"), 70,
                                                                            Severity.warning)
    assert [(item.day, item.check_in_id, item.value) for item in low.evidence] == [
        (week[0].day, week[0].check_in_id, 80), (week[1].day, week[1].check_in_id, 60),
        (week[3].day, week[3].check_in_id, 55)]  # the day without a value is not behind the average


def test_adherence_at_the_threshold_or_unrecorded_raises_nothing_and_far_below_is_critical():
    assert flags.low_adherence([Day(day=MONDAY, nutrition_adherence_pct=70)], "nutrition", 70) is None
    assert flags.low_adherence([Day(day=MONDAY)], "nutrition", 70) is None
    assert flags.low_adherence([Day(day=MONDAY, nutrition_adherence_pct=50)], "nutrition", 70).severity is \
        Severity.critical


# --- readiness -----------------------------------------------------------------------------------


def test_readiness_score_follows_the_documented_formula():
    assert flags.readiness_score(Day(day=MONDAY, **GOOD)) == 77  # 13.125 + 11.25 + 15 + 15 + 11.25 + 11.25
    assert flags.readiness_score(Day(day=MONDAY, **TIRED)) == 25
    best = Day(day=MONDAY, sleep_hours=Decimal(9), sleep_quality=5, stress=1, soreness=1, mood=5, energy=5)
    worst = Day(day=MONDAY, sleep_hours=Decimal(3), sleep_quality=1, stress=5, soreness=5, mood=1, energy=1)
    assert (flags.readiness_score(best), flags.readiness_score(worst)) == (100, 0)


def test_readiness_score_uses_the_measures_present_and_needs_four():
    # stress 1 (20 × 1) and soreness 5 (20 × 0), mood 3 and energy 3 (15 × ½ each): 35 of 70 → 50.
    assert flags.readiness_score(Day(day=MONDAY, stress=1, soreness=5, mood=3, energy=3)) == 50
    assert flags.readiness_score(Day(day=MONDAY, stress=1, soreness=5, mood=3)) is None


measures = st.fixed_dictionaries({}, optional={
    "sleep_hours": st.decimals(min_value=0, max_value=24, places=2),
    **{name: st.integers(1, 5) for name in ("sleep_quality", "stress", "soreness", "mood", "energy")}})


@given(measures)
def test_readiness_is_between_0_and_100_whenever_it_is_given(values):
    score = flags.readiness_score(Day(day=MONDAY, **values))
    assert (score is None) == (len(values) < flags.MIN_MEASURES)
    assert score is None or 0 <= score <= 100


@given(measures, st.sampled_from(["stress", "soreness"]))
def test_more_stress_or_soreness_never_raises_readiness(values, worse):
    values = {"sleep_quality": 3, "mood": 3, "energy": 3, **values, worse: values.get(worse, 1)}
    if values[worse] == 5:
        return
    assert flags.readiness_score(Day(day=MONDAY, **{**values, worse: values[worse] + 1})) <= \
        flags.readiness_score(Day(day=MONDAY, **values))


@pytest.mark.parametrize(("delta", "band"), [(0, Band.green), (-5, Band.green), (Decimal("-5.1"), Band.amber),
                                             (-15, Band.amber), (Decimal("-15.1"), Band.red), (-60, Band.red),
                                             (12, Band.green)])
def test_bands_by_the_delta_against_the_baseline(delta, band):
    assert flags.band_of(Decimal(delta), BANDS) is band


@given(st.integers(-100, 0), st.integers(-100, 0), st.decimals(min_value=-100, max_value=100, places=1))
def test_bands_are_ordered_for_any_settings(first, second, delta):
    bands = ReadinessBands(green_min_delta=max(first, second), amber_min_delta=min(first, second))
    order = [Band.red, Band.amber, Band.green]
    assert order.index(flags.band_of(delta, bands)) <= order.index(flags.band_of(delta + 1, bands))


def test_a_steady_week_is_green_against_its_baseline():
    trend = flags.readiness(days(MONDAY, 7), days(MONDAY - timedelta(days=28), 28), BANDS)

    assert (trend.band, trend.average_7d, trend.baseline_28d, trend.delta, trend.severity) == (
        Band.green, Decimal("77.0"), Decimal("77.0"), Decimal("0.0"), Severity.info)
    assert [day.band for day in trend.days] == [Band.green] * 7
    assert len(trend.evidence) == 7


def test_a_falling_week_is_red_and_names_its_days():
    week, baseline = _split(falling_history(MONDAY))

    trend = flags.readiness(week, baseline, BANDS)

    assert (trend.band, trend.average_7d, trend.baseline_28d, trend.delta) == (
        Band.red, Decimal("35.4"), Decimal("77.0"), Decimal("-41.6"))  # (77 + 4 × 25) / 5
    assert [(day.day.day, day.score, day.band) for day in trend.days] == [
        (2, 77, Band.green), (3, 25, Band.red), (5, 25, Band.red), (6, 25, Band.red), (7, 25, Band.red)]
    assert [item.check_in_id for item in trend.evidence] == [day.check_in_id for day in week]


def test_no_band_without_a_baseline_or_enough_days_in_the_week():
    no_baseline = flags.readiness(days(MONDAY, 7), days(MONDAY - timedelta(days=6), 6), BANDS)
    short_week = flags.readiness(days(MONDAY, 2), days(MONDAY - timedelta(days=28), 28), BANDS)

    assert (no_baseline.band, no_baseline.severity) == (None, Severity.info)
    assert "a baseline needs 7" in no_baseline.reason
    assert [day.band for day in no_baseline.days] == [None] * 7
    assert short_week.band is None and "a trend needs 3" in short_week.reason


def test_amber_bands_are_configurable():
    week = days(MONDAY, 7, sleep_hours=Decimal("6"), energy=3)  # 77 - 7.5 - 3.75 → 66
    baseline = days(MONDAY - timedelta(days=28), 28)

    assert flags.readiness(week, baseline, BANDS).band is Band.amber
    assert flags.readiness(week, baseline, ReadinessBands(green_min_delta=-12, amber_min_delta=-20)).band is \
        Band.green


# --- deload --------------------------------------------------------------------------------------


def _banded(*bands: Band | None) -> list[DayReadiness]:
    return [DayReadiness(day=MONDAY + timedelta(days=i), check_in_id=uuid.uuid4(), score=25, delta=None, band=band)
            for i, band in enumerate(bands)]


def test_a_deload_is_triggered_by_enough_red_days_in_a_row():
    run = _banded(Band.red, Band.amber, Band.red, Band.red, Band.red)

    deload = flags.deload_trigger(run, 3)

    assert (deload.red_days_in_a_row, deload.required, deload.severity) == (3, 3, Severity.critical)
    assert [item.check_in_id for item in deload.evidence] == [day.check_in_id for day in run[2:]]
    assert flags.deload_trigger(run, 4) is None


def test_a_day_without_a_check_in_neither_breaks_nor_counts():
    # Monday, Tuesday, Thursday red; no check-in on Wednesday.
    run = [day for day in _banded(Band.red, Band.red, None, Band.red) if day.band is not None]
    run[2] = run[2].model_copy(update={"day": MONDAY + timedelta(days=3)})

    assert flags.deload_trigger(run, 3).red_days_in_a_row == 3
    assert flags.deload_trigger(run[:2], 3) is None


@given(st.lists(st.sampled_from([Band.green, Band.amber, Band.red]), max_size=7), st.integers(1, 7))
def test_the_deload_is_triggered_exactly_when_a_red_run_is_long_enough(bands, required):
    longest = current = 0
    for band in bands:
        current = current + 1 if band is Band.red else 0
        longest = max(longest, current)
    assert (flags.deload_trigger(_banded(*bands), required) is not None) == (longest >= required)


# --- the week's flags ----------------------------------------------------------------------------


def test_a_steady_week_raises_nothing():
    found = _compute(steady_history(MONDAY))

    assert found.steady and found.raised() == []
    assert (found.missed, found.adherence, found.deload, found.readiness.band) == (None, [], None, Band.green)


def test_a_falling_week_with_gaps_raises_deload_readiness_missed_and_adherence():
    found = _compute(falling_history(MONDAY))

    assert not found.steady
    assert [flags_kind(flag) for flag in found.raised()] == [
        "deload", "readiness", "missed_check_ins", "low_adherence:training", "low_adherence:nutrition"]  # critical first
    assert found.missed.missed == [date(2026, 3, 4), SUNDAY]
    assert found.deload.red_days_in_a_row == 4
    assert [(flag.average_pct, flag.severity) for flag in found.adherence] == [
        (Decimal("58.0"), Severity.warning), (Decimal("65.0"), Severity.warning)]  # (90 + 4 × 50) / 5, (85 + 4 × 60) / 5


def test_thresholds_come_from_the_settings():
    found = _compute(falling_history(MONDAY), adherence_threshold_pct=50, deload_red_days=5)

    assert found.deload is None
    assert [flag.area for flag in found.adherence] == []


def flags_kind(flag) -> str:
    return f"{flag.kind}:{flag.area}" if flag.kind == "low_adherence" else flag.kind
