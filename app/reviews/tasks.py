"""Celery tasks of the reviews domain."""

from celery import shared_task

from app.reviews import service


@shared_task(name="reviews.sweep", ignore_result=True)
def sweep_deadlines() -> dict[str, int]:
    """Reminders, escalations and expiries of reviews near or past their deadline (beat, every minute)."""
    return service.sweep()
