"""Celery tasks of the coaching domain."""

from dataclasses import asdict

from celery import shared_task

from app.coaching import schedule

SCHEDULE_TASK = "coaching.schedule_weekly"


@shared_task(name=SCHEDULE_TASK, ignore_result=True, acks_late=True)
def schedule_weekly() -> dict[str, int]:
    """Start the weekly coaching reviews that are due (beat, every few minutes). Safe to run twice, or from
    two beats at once: each client's week has one run (app.coaching.schedule)."""
    return asdict(schedule.sweep())
