"""Celery tasks of the pipelines domain."""

import uuid

from celery import shared_task
from sqlalchemy.exc import OperationalError

from app.core import outbox
from app.core.db import session_scope
from app.core.signals import PIPELINE_ADVANCE_TASK
from app.pipelines import service


def advance_now(pipeline_id: str, tenant_id: str) -> str | None:
    """Idempotent: a duplicate delivery, or a signal with nothing new, leaves the pipeline as it is."""
    with session_scope(uuid.UUID(tenant_id)) as session:
        return service.advance(session, uuid.UUID(tenant_id), uuid.UUID(pipeline_id))


@shared_task(name=PIPELINE_ADVANCE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=60, retry_jitter=True,
             max_retries=8)
def advance(self, pipeline_id: str, tenant_id: str) -> str | None:
    return advance_now(pipeline_id, tenant_id)


# Whoever commits a signal (a worker ending a run or sending an email, the API deciding a review) advances the
# pipeline itself, at once; the task is the relay's way when that process died first (app.core.outbox).
outbox.run_in_process(PIPELINE_ADVANCE_TASK, advance_now)
