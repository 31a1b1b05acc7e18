"""Durable signals from lower layers to the pipelines above them, without importing them: a task name on
the outbox, written in the caller's transaction and published after commit (app.core.outbox)."""

import uuid

from sqlalchemy.orm import Session

from app.core import outbox

PIPELINE_ADVANCE_TASK = "pipelines.advance"
PIPELINE_QUEUE = "pipeline"


def advance_pipeline(session: Session, tenant_id: uuid.UUID, pipeline_id: uuid.UUID | None) -> None:
    """Ask the pipeline to look at its stages again (a run ended, a review was decided, an email left).
    Advancing is idempotent, so a signal delivered twice, or one with nothing new, changes nothing."""
    if pipeline_id is None:
        return
    outbox.enqueue(session, PIPELINE_ADVANCE_TASK, PIPELINE_QUEUE,
                   {"pipeline_id": str(pipeline_id), "tenant_id": str(tenant_id)})
