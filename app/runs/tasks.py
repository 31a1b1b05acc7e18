"""Celery tasks of the runs domain: thin, ids in, call a service. Retries are the engine's business
(app.runs.executor), not Celery's, so every attempt is recorded in agent_runs."""

import uuid

from celery import shared_task

from app.core import outbox
from app.core.db import session_scope
from app.runs import executor, maintenance


@shared_task(name="runs.execute", bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_run(self, run_id: str, tenant_id: str) -> str | None:
    return executor.execute(uuid.UUID(run_id), uuid.UUID(tenant_id), worker=self.request.hostname or "unknown")


@shared_task(name="outbox.relay", ignore_result=True)
def relay_outbox() -> int:
    with session_scope() as session:
        return outbox.relay(session)


@shared_task(name="runs.reap", ignore_result=True)
def reap_runs() -> dict[str, int]:
    return maintenance.reap()


@shared_task(name="maintenance.purge", ignore_result=True)
def purge() -> dict[str, int]:
    with session_scope() as session:
        return {"outbox": outbox.purge_published(session), "idempotency_keys": maintenance.purge_idempotency_keys(session)}
