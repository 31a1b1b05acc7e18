"""`knowledge_ingest`: the internal agent that makes a document searchable, on the `knowledge` queue.

It runs through the run engine like every agent, so ingestion is durable, retried with backoff and
visible in /api/v1/runs. Its steps converge rather than assume: `chunk` splits the document unless it
already has chunks; `embed:<space>:<n>` embeds the chunks of batch n that are not in the space of the
tenant's embedder yet; `finalize:<space>` checks that every chunk is, and that the tenant still uses
that embedder, and marks the document ready. The same run therefore ingests a new document and
re-embeds an old one after a change of embedder, a step repeated after a crash finds its work done,
and two runs on one document do the same work twice at worst, never undo each other's.

Each attempt asks for the tenant's embedder afresh, and the step names carry its space: if the tenant
switches embedders mid-run, `finalize` refuses (a transient error), and the next attempt embeds with
the new embedder instead of reusing the old space's steps. A document deleted meanwhile ends the run
quietly.
"""

import math
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from app.agents.base import Agent, RunContext
from app.agents.registry import register
from app.core.config import get_settings
from app.knowledge.chunking import chunk_sections
from app.knowledge.embedders import Embedder, tenant_embedder
from app.knowledge.parsing import extract_sections
from app.knowledge.schemas import DocumentStatus
from app.models import Document, DocumentChunk
from app.runs.errors import PermanentError, TransientError

AGENT_NAME = "knowledge_ingest"
QUEUE = "knowledge"


class IngestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: uuid.UUID


class IngestOutput(BaseModel):
    document_id: uuid.UUID
    outcome: Literal["ready", "document_deleted"]
    chunks: int = 0
    embedding_model: str | None = None
    embedding_dim: int | None = None


class KnowledgeIngestAgent(Agent[IngestInput, IngestOutput]):
    name = AGENT_NAME
    input_model = IngestInput
    output_model = IngestOutput
    max_attempts = 5
    public = False
    description = "Internal: parses, chunks and embeds one knowledge document, or re-embeds it in a new space."

    @property
    def queue(self) -> str:
        return QUEUE

    def run(self, ctx: RunContext, payload: IngestInput) -> IngestOutput:
        document_id = payload.document_id
        deleted = IngestOutput(document_id=document_id, outcome="document_deleted")
        chunks = ctx.step("chunk", lambda session: _chunk(session, document_id))
        if chunks is None:
            return deleted
        with ctx.session() as session:
            embedder = tenant_embedder(session, ctx.tenant_id)
        space = embedder.model_id
        batch_size = get_settings().knowledge_embed_batch_size
        for batch in range(math.ceil(chunks / batch_size)):
            ctx.step(f"embed:{space}:{batch}", lambda session, batch=batch: _embed_batch(
                session, document_id, embedder, batch * batch_size, (batch + 1) * batch_size))
        finished = ctx.step(f"finalize:{space}", lambda session: _finalize(session, ctx.tenant_id, document_id, space))
        if finished is None:
            return deleted
        return IngestOutput(document_id=document_id, outcome="ready", **finished)


def _locked_document(session: Session, document_id: uuid.UUID) -> Document | None:
    """The document, locked so that a concurrent DELETE waits for this step (or has happened)."""
    return session.scalars(select(Document).where(Document.id == document_id).with_for_update()).one_or_none()


def _chunk(session: Session, document_id: uuid.UUID) -> int | None:
    document = _locked_document(session, document_id)
    if document is None:
        return None
    existing = session.scalar(select(func.count()).select_from(DocumentChunk)
                              .where(DocumentChunk.document_id == document_id))
    if existing:
        return existing
    settings = get_settings()
    chunks = chunk_sections(document.content_type, extract_sections(document.content_type, document.source),
                            chunk_size=settings.knowledge_chunk_size, chunk_overlap=settings.knowledge_chunk_overlap)
    if not chunks:
        raise PermanentError("the document has no text to index", code="no_text")
    session.execute(insert(DocumentChunk), [
        {"id": uuid.uuid4(), "tenant_id": document.tenant_id, "document_id": document.id, "position": position,
         "text": chunk.text, "context": " › ".join([document.title, *chunk.metadata.get("headings", [])]),
         "meta": chunk.metadata}
        for position, chunk in enumerate(chunks)
    ])
    if document.status == DocumentStatus.pending.value:
        document.status = DocumentStatus.processing.value
    return len(chunks)


def _embed_batch(session: Session, document_id: uuid.UUID, embedder: Embedder, start: int, end: int) -> int:
    """Embed the chunks at positions [start, end) that are not in the embedder's space yet."""
    pending = session.execute(
        select(DocumentChunk.id, DocumentChunk.context, DocumentChunk.text)
        .where(DocumentChunk.document_id == document_id, DocumentChunk.position >= start, DocumentChunk.position < end)
        .where(DocumentChunk.embedding_model.is_distinct_from(embedder.model_id))
        .order_by(DocumentChunk.position)
    ).all()
    if not pending:
        return 0
    space, vectors = embedder.embed([f"{row.context}\n\n{row.text}" for row in pending])
    session.execute(update(DocumentChunk), [
        {"id": row.id, "embedding": vector, "embedding_model": space.model, "embedding_dim": space.dimension}
        for row, vector in zip(pending, vectors, strict=True)
    ])
    return len(pending)


def _finalize(session: Session, tenant_id: uuid.UUID, document_id: uuid.UUID, model: str) -> dict[str, Any] | None:
    document = _locked_document(session, document_id)
    if document is None:
        return None
    current = tenant_embedder(session, tenant_id).model_id
    if current != model:
        raise TransientError(f"the tenant's embedder changed during ingestion ({model} → {current}); "
                             "the next attempt embeds with the new one", code="embedder_changed")
    spaces = session.execute(
        select(DocumentChunk.embedding_model, DocumentChunk.embedding_dim, func.count())
        .where(DocumentChunk.document_id == document_id)
        .group_by(DocumentChunk.embedding_model, DocumentChunk.embedding_dim)
    ).all()
    if len(spaces) != 1 or spaces[0][0] != model:
        found = ", ".join(f"{count} in {name or 'no space'}/{dim}" for name, dim, count in spaces)
        raise PermanentError(f"the document's chunks are not all embedded with {model}: {found}",
                             code="embedding_incomplete")
    _, dimension, count = spaces[0]
    document.status = DocumentStatus.ready.value
    document.chunk_count = count
    document.embedding_model = model
    document.embedding_dim = dimension
    document.ingested_at = datetime.now(UTC)
    return {"chunks": count, "embedding_model": model, "embedding_dim": dimension}


register(KnowledgeIngestAgent())
