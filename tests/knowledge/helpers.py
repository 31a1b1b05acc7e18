"""Building knowledge for tests: documents made searchable inside the test's own transaction.

`ingest()` runs the real ingestion agent (parse, chunk, embed, store) with `InlineRunContext`, which
executes each step at once in the given session instead of through a worker, and then records the run
as succeeded through the run state machine, as the executor would; so retrieval tests can stay in a
rolled-back transaction. What the worker path adds (queues, retries, durability) is proved in
test_ingestion_worker.py.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.knowledge import service
from app.knowledge.ingestion import IngestInput, IngestOutput, KnowledgeIngestAgent
from app.knowledge.parsing import TEXT_PLAIN
from app.knowledge.schemas import DocumentOut
from app.models import AgentRun
from app.runs.state import RunStatus, transition

T = TypeVar("T")


@dataclass
class InlineRunContext:
    db: Session
    tenant_id: uuid.UUID
    agent: str = "knowledge_ingest"
    attempt: int = 1
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    steps: dict[str, Any] = field(default_factory=dict)

    @property
    def context(self) -> TenantContext:
        return TenantContext.system(self.tenant_id)

    def step(self, name: str, fn: Callable[[Session], T]) -> T:
        if name not in self.steps:
            self.steps[name] = fn(self.db)
            self.db.flush()
        return self.steps[name]

    def step_key(self, name: str) -> str:
        return f"{self.run_id}:{name}"

    def check_cancelled(self) -> None:
        return None

    def session(self) -> Session:
        """A second session in the same (rolled-back) transaction; closing it leaves the test's open."""
        session = Session(bind=self.db.connection(), join_transaction_mode="create_savepoint")
        session.info["tenant_id"] = self.tenant_id
        return session


def ingest(session: Session, tenant_id: uuid.UUID, title: str, content: str, *, tags: list[str] | None = None,
           content_type: str = TEXT_PLAIN) -> DocumentOut:
    """A ready document of `tenant_id` (the session is bound to it): accepted as the API accepts it,
    then ingested inline."""
    bind_tenant(session, tenant_id)
    ctx = TenantContext.system(tenant_id)
    document, _ = service.create_document(session, ctx, service.text_document(title, content, content_type, tags or []))
    output = run_inline(session, tenant_id, document.id)
    run = session.get_one(AgentRun, document.run_id)
    transition(session, run, RunStatus.running, attempt=1)
    transition(session, run, RunStatus.succeeded, output=output.model_dump(mode="json"))
    return service.get_document(session, ctx, document.id)


def run_inline(session: Session, tenant_id: uuid.UUID, document_id: uuid.UUID) -> IngestOutput:
    """One attempt of the ingestion agent on `document_id`, its steps executed in `session`."""
    return KnowledgeIngestAgent().run(InlineRunContext(session, tenant_id), IngestInput(document_id=document_id))
