"""Celery tasks of the email domain: thin, ids in, call the delivery.

A refused or unreachable SMTP server is retried by the delivery itself, through the outbox (the retry is
committed with the attempt's error, so it cannot be lost). Celery retries only what keeps the delivery
from recording anything at all: the database going away."""

import uuid

from celery import shared_task
from sqlalchemy.exc import OperationalError

from app.core.config import get_settings
from app.email import delivery

# Long enough for a database failover; an email left approved after it is still in its row.
DATABASE_RETRIES = 8


@shared_task(name=delivery.SEND_TASK, bind=True, queue=delivery.EMAIL_QUEUE, acks_late=True,
             reject_on_worker_lost=True, ignore_result=True, max_retries=DATABASE_RETRIES)
def send_email(self, email_id: str, tenant_id: str) -> str:
    try:
        return delivery.deliver(uuid.UUID(email_id), uuid.UUID(tenant_id))
    except OperationalError as exc:
        countdown = delivery.backoff_seconds(self.request.retries + 1, get_settings())
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="email.sweep", ignore_result=True)
def sweep_stalled() -> int:
    """Approved emails whose send message was lost (expired, or gone with the broker) are sent again."""
    return delivery.republish_stalled()
