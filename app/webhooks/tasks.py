"""Celery tasks of the webhooks domain: thin, ids in, call the delivery.

A failing receiver is retried by the delivery itself, through the outbox (the retry commits with the
attempt's record). Celery retries only what keeps the delivery from recording anything: the database
going away."""

import uuid

from celery import shared_task
from sqlalchemy.exc import OperationalError

from app.core import outbox
from app.core.config import get_settings
from app.core.db import session_scope
from app.core.signals import RUN_OUTCOME_TASK
from app.webhooks import delivery, service
from app.webhooks.service import DELIVER_TASK, WEBHOOKS_QUEUE

DATABASE_RETRIES = 8


@shared_task(name=DELIVER_TASK, bind=True, queue=WEBHOOKS_QUEUE, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=DATABASE_RETRIES)
def deliver_webhook(self, delivery_id: str, tenant_id: str) -> str:
    try:
        return delivery.deliver(uuid.UUID(delivery_id), uuid.UUID(tenant_id))
    except OperationalError as exc:
        countdown = delivery.backoff_seconds(self.request.retries + 1, get_settings())
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep_due() -> int:
    """Pending deliveries whose message was lost (expired, or gone with the broker) are published again."""
    return delivery.republish_due()


def announce_run_outcome_now(run_id: str, tenant_id: str, status: str, attempt: int) -> None:
    with session_scope(uuid.UUID(tenant_id)) as session:
        service.announce_run_outcome(session, uuid.UUID(tenant_id), uuid.UUID(run_id), status, attempt)


@shared_task(name=RUN_OUTCOME_TASK, queue=WEBHOOKS_QUEUE, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=60, retry_jitter=True,
             max_retries=DATABASE_RETRIES)
def announce_run_outcome(run_id: str, tenant_id: str, status: str, attempt: int) -> None:
    """The relay's way, when the process that ended the run died before it announced it."""
    announce_run_outcome_now(run_id, tenant_id, status, attempt)


# The process that ends a run announces it right after its commit (app.core.outbox).
outbox.run_in_process(RUN_OUTCOME_TASK, announce_run_outcome_now)
