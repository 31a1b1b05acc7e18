"""The weekly schedule: when a review is due on the client's clock (DST included), and beat's pass starting
exactly one run per client and week however often it fires, from one beat or two."""

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.coaching import schedule
from app.coaching.schedule import due_week, review_instant, review_key, start_review, sweep, week_days
from app.coaching.settings import schedule_of
from app.core.db import session_scope
from app.core.errors import AppError
from app.models import AgentRun
from tests.coaching_agent.helpers import steady_history

BERLIN = "Europe/Berlin"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- weeks and review instants ------------------------------------------------------------------


def test_iso_weeks():
    assert week_days("2026-W10") == (date(2026, 3, 2), date(2026, 3, 8))
    assert week_days("2026-W53") == (date(2026, 12, 28), date(2027, 1, 3))
    assert schedule.week_of(date(2027, 1, 3)) == "2026-W53"
    for bad in ("2025-W53", "2026-W00", "2026-10", "26-W10", "2026-W1"):
        with pytest.raises(ValueError):
            week_days(bad)


def test_the_review_is_at_the_tenants_hour_on_the_clients_clock():
    assert review_instant(date(2026, 3, 2), BERLIN, 0, 7) == utc(2026, 3, 2, 6)  # CET
    assert review_instant(date(2026, 6, 1), BERLIN, 0, 7) == utc(2026, 6, 1, 5)  # CEST
    assert review_instant(date(2026, 3, 2), "Pacific/Auckland", 0, 7) == utc(2026, 3, 1, 18)


def test_an_hour_the_clocks_skip_is_reviewed_when_they_jump_and_a_repeated_one_at_its_first_occurrence():
    # 29 March 2026, Berlin: 02:00 CET becomes 03:00 CEST (01:00 UTC); 25 October: 03:00 CEST becomes 02:00 CET.
    assert review_instant(date(2026, 3, 23), BERLIN, 6, 2) == utc(2026, 3, 29, 1)
    assert review_instant(date(2026, 10, 19), BERLIN, 6, 2) == utc(2026, 10, 25, 0)
    # Samoa skipped Friday 30 December 2011 entirely: its review is at the jump, midnight into Saturday.
    jump = review_instant(date(2011, 12, 26), "Pacific/Apia", 4, 7)
    assert jump.astimezone(ZoneInfo("Pacific/Apia")).replace(tzinfo=None) == datetime(2011, 12, 31)


def test_due_reviews_the_last_complete_week_once_its_time_has_passed():
    assert due_week(utc(2026, 3, 9, 5, 59), BERLIN, 0, 7) is None
    assert due_week(utc(2026, 3, 9, 6, 0), BERLIN, 0, 7) == "2026-W10"
    assert due_week(utc(2026, 3, 15, 22, 59), BERLIN, 0, 7) == "2026-W10"  # Sunday 23:59 in Berlin
    assert due_week(utc(2026, 3, 15, 23, 0), BERLIN, 0, 7) is None  # Monday 00:00: the next week's is not due


ZONES = ["Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe", "Pacific/Auckland",
         "Asia/Kolkata", "Pacific/Apia", "UTC"]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ZONES), st.integers(0, 6), st.integers(0, 23),
       st.datetimes(min_value=datetime(2011, 1, 1), max_value=datetime(2035, 1, 1)))
def test_ticks_across_any_weeks_review_every_week_once_at_its_time(zone, weekday, hour, start):
    """Beat's ticks every 15 minutes for three weeks: the weeks found due follow each other with none skipped,
    and each is first found within a tick of its review instant."""
    first_seen: dict[str, datetime] = {}
    tick = start.replace(tzinfo=UTC, second=0, microsecond=0)
    for _ in range(3 * 7 * 96):
        week = due_week(tick, zone, weekday, hour)
        if week is not None:
            first_seen.setdefault(week, tick)
        tick += timedelta(minutes=15)
    weeks = list(first_seen)
    assert weeks == sorted(weeks) and len(weeks) >= 2
    for earlier, later in zip(weeks, weeks[1:]):
        assert week_days(later)[0] - week_days(earlier)[0] == timedelta(days=7)
    for week, seen in list(first_seen.items())[1:]:
        review = review_instant(week_days(week)[0] + timedelta(days=7), zone, weekday, hour)
        assert review <= seen < review + timedelta(minutes=15)


def test_the_schedule_reads_the_settings_as_the_scan_does():
    assert schedule_of({}) == (0, 7)
    assert schedule_of({"coaching": {"review_weekday": "sun", "review_hour": 2}}) == (6, 2)
    assert schedule_of({"coaching": {"review_weekday": "Sunday", "review_hour": "23"}}) == (0, 23)
    assert schedule_of({"coaching": {"review_hour": 24}}) == (0, 7)
    assert schedule_of({"coaching": "nonsense"}) == (0, 7)


# --- beat's pass --------------------------------------------------------------------------------


def _runs(world, client_id: uuid.UUID) -> list[AgentRun]:
    with session_scope(world.tenant.id) as session:
        return list(session.scalars(select(AgentRun).where(AgentRun.agent == "coaching",
                                                           AgentRun.input["client_id"].astext == str(client_id))))


def test_a_second_tick_in_the_same_week_starts_no_second_run(world):
    client_id = world.add_client()
    monday = utc(2026, 3, 9, 6)  # 07:00 in Berlin

    sweep(monday - timedelta(minutes=5))
    assert _runs(world, client_id) == []  # not yet
    sweep(monday)
    sweep(monday + timedelta(minutes=5))
    sweep(monday + timedelta(days=3))

    [run] = _runs(world, client_id)
    assert (run.input, run.idempotency_key, run.requested_by_type) == (
        {"client_id": str(client_id), "week": "2026-W10"}, review_key(client_id, "2026-W10"), "system")
    sweep(monday + timedelta(days=7))  # the next week
    assert sorted(run.input["week"] for run in _runs(world, client_id)) == ["2026-W10", "2026-W11"]


def test_a_client_whose_week_has_its_run_already_gets_it_back(world):
    """What a restarted beat, or a second one past the scan, meets: the key is taken, the run is the first."""
    client_id = world.add_client()
    now = utc(2026, 3, 9, 6, 30)

    with session_scope(world.tenant.id) as session:
        first = start_review(session, world.ctx, client_id, now)
    with session_scope(world.tenant.id) as session:
        again = start_review(session, world.ctx, client_id, now)

    assert (first, again) == (("started", "2026-W10"), ("already", "2026-W10"))
    assert len(_runs(world, client_id)) == 1


def test_two_beats_at_once_start_one_run(world):
    """The second beat's insert waits on the first's uncommitted key, then finds it taken."""
    client_id = world.add_client()
    now = utc(2026, 3, 9, 6, 30)
    inserted, release = threading.Event(), threading.Event()
    outcomes: dict[str, tuple[str, str | None]] = {}

    def first_beat() -> None:
        with session_scope(world.tenant.id) as session:
            outcomes["first"] = start_review(session, world.ctx, client_id, now)
            inserted.set()
            release.wait(10)

    def second_beat() -> None:
        with session_scope(world.tenant.id) as session:
            outcomes["second"] = start_review(session, world.ctx, client_id, now)

    first = threading.Thread(target=first_beat)
    first.start()
    assert inserted.wait(10)
    second = threading.Thread(target=second_beat)
    second.start()
    time.sleep(0.5)
    assert second.is_alive() and "second" not in outcomes  # waiting on the first beat's key
    release.set()
    first.join(10)
    second.join(10)

    assert outcomes == {"first": ("started", "2026-W10"), "second": ("already", "2026-W10")}
    assert len(_runs(world, client_id)) == 1


@pytest.mark.parametrize(("transition", "jump"), [
    (utc(2026, 3, 29, 1), "2026-W12"),  # spring: 02:00 CET is skipped, 03:00 CEST follows 01:59
    (utc(2026, 10, 25, 0), "2026-W42"),  # autumn: 02:00-03:00 happens twice
])
def test_a_review_hour_inside_a_dst_change_is_reviewed_once(world, transition, jump):
    world.set_settings(coaching={"review_weekday": "sun", "review_hour": 2})
    client_id = world.add_client(timezone=BERLIN)
    started_at: list[datetime] = []

    tick = transition - timedelta(hours=2)
    while tick <= transition + timedelta(hours=3):
        before = len(_runs(world, client_id))
        sweep(tick)
        if len(_runs(world, client_id)) > before:
            started_at.append(tick)
        tick += timedelta(minutes=5)

    assert started_at == [transition]
    [run] = _runs(world, client_id)
    assert run.input["week"] == jump


def test_the_scan_skips_clients_not_due(world, committed_db):
    now = utc(2026, 3, 9, 6, 30)  # Monday 07:30 in Berlin, 19:30 in Auckland, 01:30 in New York
    due = world.add_client(timezone=BERLIN)
    auckland = world.add_client(timezone="Pacific/Auckland")  # its Monday 07:00 was 12 hours ago: due too
    new_york = world.add_client(timezone="America/New_York")  # not yet
    paused = world.add_client(status="paused")
    no_plan = world.add_client(plan=None)
    later = world.another_tenant(committed_db)
    later.set_settings(coaching={"review_weekday": "tue"})
    not_today = later.add_client(timezone=BERLIN)

    with session_scope() as session:
        found = {client for _, client in schedule.candidates(session, now, 1000)}

    assert {due, auckland} <= found
    assert not found & {new_york, paused, no_plan, not_today}


def test_a_client_that_cannot_be_started_does_not_stop_the_others(world, committed_db):
    now = utc(2026, 3, 9, 6, 30)
    spent = world.another_tenant(committed_db)
    spent.set_settings(llm={"budgets": {"monthly_tokens": 0}})
    refused = spent.add_client()
    started = world.add_client()
    with session_scope(spent.tenant.id) as session, pytest.raises(AppError) as refusal:
        start_review(session, spent.ctx, refused, now)
    assert refusal.value.status == 402  # the tenant's model budget is spent

    result = sweep(now)

    assert result.failed >= 1
    assert len(_runs(world, started)) == 1 and _runs(spent, refused) == []
    with session_scope() as session:  # tried again on the next tick
        assert refused in {client for _, client in schedule.candidates(session, now, 1000)}


def test_the_scheduled_run_reviews_the_week_before(world):
    client_id = world.add_client()
    world.add_check_ins(client_id, steady_history(date(2026, 3, 2)))

    sweep(utc(2026, 3, 9, 6, 30))
    [run] = _runs(world, client_id)
    done = world.execute(run.id)

    assert done.status == "succeeded", done.error
    assert (done.output["week"], done.output["band"], done.output["steady"]) == ("2026-W10", "green", True)
