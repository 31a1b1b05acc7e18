"""The weekly review: each active client with a plan is reviewed once a week, at the tenant's review weekday
and hour (`settings.coaching.review_weekday`, `review_hour`) in the **client's** time zone, since the week
being reviewed is made of the client's local days (their check-ins are dated in it). The review reviews the
last complete week (Monday to Sunday, client-local) before the one the review time falls in.

When is it due: from a UTC instant, in the client's zone (zoneinfo), this week's review time is its
Monday + weekday at `hour:00`, resolved to one instant. A local time that does not exist (the hour the clocks
skip in spring) resolves to the moment the clocks jump past it; one that exists twice (the hour repeated in
autumn) to its first occurrence. "Due" is `now >= that instant` and stays true until the week ends, so
whatever the clocks do the review time is passed exactly once per week.

Exactly once per client and week: beat's task (`coaching.schedule_weekly`, every few minutes) starts a run
with the key `coaching:<client_id>:<reviewed week>` and the input `{client_id, week}`. `agent_runs` is unique
on (tenant_id, idempotency_key) and the accept statement inserts with ON CONFLICT DO NOTHING, so a second
tick, a restarted beat or two beats at once find the key taken and get the first run back
(`app.runs.service.create_run`); two ticks racing wait on the key's index entry and the second one inserts
nothing. The cross-tenant scan (`maintenance_clients_due_for_review`, a SECURITY DEFINER function returning
ids, migration 0008) applies the same rule in SQL to skip clients reviewed already; each candidate is then
re-read under its tenant's binding and decided here, with zoneinfo.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.coaching.settings import schedule_of
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.errors import AppError
from app.core.scope import scoped
from app.models import Client, Tenant
from app.runs import service as runs

log = structlog.get_logger(__name__)

AGENT = "coaching"


# --- ISO weeks ------------------------------------------------------------------------------------


def week_of(day: date) -> str:
    """'YYYY-Www', the ISO week holding `day`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(week: str) -> tuple[date, date]:
    """The Monday and Sunday of an ISO week 'YYYY-Www'; ValueError for anything else (W53 of a year that has
    none included)."""
    year, separator, number = week.partition("-W")
    if not separator or len(year) != 4 or len(number) != 2 or not (year + number).isdigit():
        raise ValueError(f"'{week}' is not an ISO week such as 2026-W09")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return monday, monday + timedelta(days=6)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(zone(timezone)).date()


def last_complete_week(now: datetime, timezone: str) -> str:
    """The ISO week before the one `now` falls in, in `timezone`."""
    return week_of(local_today(now, timezone) - timedelta(days=7))


# --- when a review is due -------------------------------------------------------------------------


def review_instant(monday: date, timezone: str, weekday: int, hour: int) -> datetime:
    """The UTC instant of the review in the week starting `monday`: the local wall time weekday/hour; its
    first occurrence when the clocks show it twice; when they skip it, the moment they jump past it."""
    tz = zone(timezone)
    wall = datetime.combine(monday + timedelta(days=weekday), time(hour))
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall_time(instant, tz) == wall:
        return instant
    # Skipped: fold=0 reads it with the offset before the jump (an instant at or after the jump), fold=1 with
    # the one after (an instant before it). The jump is the first second in between showing a later time.
    before = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    after = int(instant.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if _wall_time(datetime.fromtimestamp(middle, UTC), tz) >= wall:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _wall_time(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def due_week(now: datetime, timezone: str, weekday: int, hour: int) -> str | None:
    """The week to review at `now` (an aware instant) for a client in `timezone`: the last complete week, once
    this week's review instant has passed; None before it."""
    monday = local_today(now, timezone)
    monday -= timedelta(days=monday.weekday())
    if now < review_instant(monday, timezone, weekday, hour):
        return None
    return week_of(monday - timedelta(days=7))


def review_key(client_id: uuid.UUID, week: str) -> str:
    return f"coaching:{client_id}:{week}"


# --- beat's pass ----------------------------------------------------------------------------------


@dataclass
class SweepResult:
    started: int = 0
    already: int = 0  # the key was taken: started by an earlier tick or another beat
    not_due: int = 0
    failed: int = 0


def candidates(session: Session, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Across tenants (a SECURITY DEFINER function returning ids): active clients with a plan whose review
    time has passed this week and whose week has no run yet."""
    rows = session.execute(text("SELECT * FROM maintenance_clients_due_for_review(:now, :limit)"),
                           {"now": now, "limit": limit})
    return [(row.tenant_id, row.client_id) for row in rows]


def start_review(session: Session, ctx: TenantContext, client_id: uuid.UUID,
                 now: datetime) -> tuple[str, str | None]:
    """Start the client's weekly review if it is due at `now`: ('started' | 'already' | 'not_due', week)."""
    client = session.scalars(scoped(ctx, Client).where(Client.id == client_id)).one_or_none()
    if client is None or client.status != "active":
        return "not_due", None
    tenant_settings = session.scalar(select(Tenant.settings).where(Tenant.id == ctx.tenant_id)) or {}
    weekday, hour = schedule_of(tenant_settings)
    week = due_week(now, client.timezone, weekday, hour)
    if week is None:
        return "not_due", None
    accepted = runs.accept_run(session, ctx, AGENT, {"client_id": str(client.id), "week": week},
                               idempotency_key=review_key(client.id, week))
    return ("already" if accepted.replayed else "started"), week


def sweep(now: datetime | None = None, limit: int = 1000) -> SweepResult:
    """Beat's pass: start every due weekly review, each client in a transaction of its own under its tenant's
    binding (one that cannot be started, a spent model budget say, does not stop the others, and is tried
    again on the next tick)."""
    now = now or datetime.now(UTC)
    result = SweepResult()
    with session_scope() as session:
        due = candidates(session, now, limit)
    for tenant_id, client_id in due:
        try:
            with session_scope(tenant_id) as session:
                outcome, week = start_review(session, TenantContext.system(tenant_id), client_id, now)
        except AppError as exc:
            result.failed += 1
            log.warning("coaching_review_not_started", tenant_id=str(tenant_id), client_id=str(client_id),
                        status=exc.status, detail=exc.detail)
            continue
        except Exception:
            result.failed += 1
            log.exception("coaching_review_failed", tenant_id=str(tenant_id), client_id=str(client_id))
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
        if outcome == "started":
            log.info("coaching_review_started", tenant_id=str(tenant_id), client_id=str(client_id), week=week)
    return result
