"""Celery tasks of the pipelines domain."""

import uuid

from celery import shared_task
from sqlalchemy.exc import OperationalError

from app.core.db import session_scope
from app.pipelines import service


@shared_task(name="pipelines.advance", bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=60, retry_jitter=True,
             max_retries=8)
def advance(self, pipeline_id: str, tenant_id: str) -> str | None:
    """Idempotent: a duplicate delivery, or a signal with nothing new, leaves the pipeline as it is."""
    with session_scope(uuid.UUID(tenant_id)) as session:
        return service.advance(session, uuid.UUID(tenant_id), uuid.UUID(pipeline_id))
