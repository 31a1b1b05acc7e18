"""The ingestion agent's steps converge: a change of embedder mid-run, a document deleted mid-run, and a
run repeated on finished work (steps executed inline; the worker path is test_ingestion_worker.py)."""

import pytest
from sqlalchemy import select

from app.core.context import TenantContext
from app.knowledge import service
from app.knowledge.ingestion import IngestInput, KnowledgeIngestAgent
from app.knowledge.schemas import DocumentStatus
from app.models import Document, DocumentChunk, Tenant
from app.runs.errors import TransientError
from tests.builders import make_tenant
from tests.knowledge.fake_providers import FakeProvider
from tests.knowledge.files import PRICE_BOOK_MD
from tests.knowledge.helpers import InlineRunContext, run_inline

OFFLINE = "offline:lexical-hash-v1"
OLLAMA = {"knowledge": {"embedder": "ollama", "embedding_model": "nomic-embed-text"}}


class InterruptedRun(InlineRunContext):
    """Runs `interruption` once, just before the step called `before` executes."""

    def __init__(self, *args, before: str, interruption, **kwargs):
        super().__init__(*args, **kwargs)
        self.before, self.interruption = before, interruption

    def step(self, name, fn):
        if name == self.before and self.interruption is not None:
            interruption, self.interruption = self.interruption, None
            interruption()
        return super().step(name, fn)


def pending_document(db, tenant_id) -> Document:
    out, _ = service.create_document(db, TenantContext.system(tenant_id),
                                     service.text_document("Price book", PRICE_BOOK_MD, "text/markdown", []))
    return db.get_one(Document, out.id)


def spaces(db, document_id) -> set[tuple[str | None, int | None]]:
    return set(db.execute(select(DocumentChunk.embedding_model, DocumentChunk.embedding_dim)
                          .where(DocumentChunk.document_id == document_id)).all())


def test_a_change_of_embedder_mid_run_is_retried_in_the_new_space(db, settings_env):
    tenant = make_tenant(db)
    document = pending_document(db, tenant.id)
    with FakeProvider(dimension=768) as ollama:
        settings_env(ollama_host=ollama.url)

        def switch_to_ollama() -> None:
            db.get_one(Tenant, tenant.id).settings = OLLAMA
            db.flush()

        run = InterruptedRun(db, tenant.id, before=f"finalize:{OFFLINE}", interruption=switch_to_ollama)
        agent, payload = KnowledgeIngestAgent(), IngestInput(document_id=document.id)
        with pytest.raises(TransientError, match="embedder changed") as raised:
            agent.run(run, payload)
        assert raised.value.code == "embedder_changed"
        assert spaces(db, document.id) == {(OFFLINE, 384)}
        assert db.get_one(Document, document.id).status == DocumentStatus.processing.value

        run.attempt = 2  # the engine's retry: stored steps are reused, the embedder is asked again
        output = agent.run(run, payload)
    assert (output.outcome, output.embedding_model, output.embedding_dim) == ("ready", "ollama:nomic-embed-text", 768)
    assert spaces(db, document.id) == {("ollama:nomic-embed-text", 768)}
    assert sum(len(request["body"]["input"]) for request in ollama.requests) == output.chunks
    assert list(run.steps)[:2] == ["chunk", f"embed:{OFFLINE}:0"]


def test_a_document_deleted_mid_run_ends_the_run_quietly(db):
    tenant = make_tenant(db)
    document = pending_document(db, tenant.id)

    def delete() -> None:
        db.delete(document)
        db.flush()

    run = InterruptedRun(db, tenant.id, before=f"embed:{OFFLINE}:0", interruption=delete)
    output = KnowledgeIngestAgent().run(run, IngestInput(document_id=document.id))
    assert output.outcome == "document_deleted"
    assert db.scalars(select(DocumentChunk).where(DocumentChunk.document_id == document.id)).all() == []


def test_running_again_on_a_ready_document_embeds_nothing(db, settings_env):
    tenant = make_tenant(db)
    document = pending_document(db, tenant.id)
    with FakeProvider(dimension=768) as ollama:
        settings_env(ollama_host=ollama.url)
        db.get_one(Tenant, tenant.id).settings = OLLAMA
        db.flush()
        first = run_inline(db, tenant.id, document.id)
        calls = len(ollama.requests)
        chunk_ids = db.scalars(select(DocumentChunk.id).where(DocumentChunk.document_id == document.id)).all()
        second = run_inline(db, tenant.id, document.id)
    assert first == second and calls >= 1 and len(ollama.requests) == calls
    assert db.scalars(select(DocumentChunk.id).where(DocumentChunk.document_id == document.id)).all() == chunk_ids
