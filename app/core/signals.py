"""Durable signals from lower layers to the domains above them, without importing them: a task name on the
outbox, written in the caller's transaction and, after commit, done at once by the process that committed
it where the domain registered how (app.core.outbox.run_in_process), else published.

- `pipelines.advance`: a pipeline's stage may have moved (a run ended, a review was decided, an email left);
- `runs.announce_outcome`: a run succeeded, failed or was dead-lettered in a tenant that wants to know
  (its webhooks); written by the run's outcome statement itself (app.runs.state)."""

import uuid

from sqlalchemy.orm import Session

from app.core import outbox

PIPELINE_ADVANCE_TASK = "pipelines.advance"
PIPELINE_QUEUE = "pipeline"
RUN_OUTCOME_TASK = "runs.announce_outcome"
RUN_OUTCOME_QUEUE = "webhooks"


def advance_pipeline(session: Session, tenant_id: uuid.UUID, pipeline_id: uuid.UUID | None) -> None:
    """Ask the pipeline to look at its stages again (a run ended, a review was decided, an email left).
    Advancing is idempotent, so a signal delivered twice, or one with nothing new, changes nothing; one
    signal a transaction is enough, however many of its changes concern the pipeline."""
    if pipeline_id is None or advance_pending(session, pipeline_id):
        return
    outbox.enqueue(session, PIPELINE_ADVANCE_TASK, PIPELINE_QUEUE, advance_kwargs(tenant_id, pipeline_id))


def advance_pending(session: Session, pipeline_id: uuid.UUID | None) -> bool:
    """Whether `session`'s transaction already signals the pipeline."""
    wanted = str(pipeline_id)
    return any(message.task == PIPELINE_ADVANCE_TASK and message.kwargs["pipeline_id"] == wanted
               for message in outbox.pending(session))


def advance_kwargs(tenant_id: uuid.UUID, pipeline_id: uuid.UUID) -> dict[str, str]:
    return {"pipeline_id": str(pipeline_id), "tenant_id": str(tenant_id)}


def run_outcome_kwargs(tenant_id: uuid.UUID, run_id: uuid.UUID, status: str, attempt: int) -> dict[str, str | int]:
    return {"run_id": str(run_id), "tenant_id": str(tenant_id), "status": status, "attempt": attempt}
