"""Knowledge documents: accept (and deduplicate) uploads, start their ingestion runs, list, read, delete,
re-embed after a change of embedder, and search on behalf of the API."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.pagination import decode_cursor, encode_cursor
from app.core.errors import Conflict, NotFound, ServiceUnavailable, UnprocessableEntity
from app.core.scope import get_or_404
from app.knowledge import repository, retrieval
from app.knowledge.embedders import tenant_embedder
from app.knowledge.ingestion import AGENT_NAME
from app.knowledge.parsing import APPLICATION_PDF, check_pdf, check_text, content_hash, decode_text
from app.knowledge.repository import DocumentRow
from app.knowledge.schemas import (
    DocumentOut, DocumentStatus, ReembedResult, SearchRequest, SearchResponse,
)
from app.models import Document
from app.runs import service as runs
from app.runs.errors import RunError, TransientError


@dataclass(frozen=True)
class NewDocument:
    """An upload that passed the checks: `payload` is the UTF-8 text, or the PDF's bytes."""

    title: str
    content_type: str
    payload: bytes
    tags: list[str]
    filename: str | None = None


def text_document(title: str, content: str, content_type: str, tags: list[str]) -> NewDocument:
    text = check_text(content, "The content")
    return NewDocument(title, content_type, text.encode(), tags)


def file_document(filename: str, content_type: str, data: bytes, title: str | None, tags: list[str]) -> NewDocument:
    what = f"The file '{filename}'"
    if not data:
        raise UnprocessableEntity(f"{what} is empty.")
    if content_type == APPLICATION_PDF:
        check_pdf(data, get_settings().knowledge_max_pdf_pages, what)
        payload = data
    else:
        payload = decode_text(data, what).encode()
    return NewDocument(title or filename, content_type, payload, tags, filename)


def create_document(session: Session, ctx: TenantContext, new: NewDocument) -> tuple[DocumentOut, bool]:
    """The document and whether an ingestion was started. Identical content (same type and bytes) is one
    document per tenant: uploading it again returns the existing document, and starts a new ingestion
    only if the last one failed."""
    digest = content_hash(new.content_type, new.payload)
    existing = repository.document_by_hash(session, ctx, digest)
    if existing is not None:
        return _reupload(session, ctx, existing)
    document = Document(
        id=uuid.uuid4(), tenant_id=ctx.tenant_id, title=new.title, content_type=new.content_type,
        filename=new.filename, tags=new.tags, content_hash=digest, size_bytes=len(new.payload), source=new.payload,
        status=DocumentStatus.pending.value, chunk_count=0, created_by_type=ctx.principal.kind,
        created_by_id=ctx.principal.id,
    )
    try:
        with session.begin_nested():
            session.add(document)
    except IntegrityError as exc:
        # The same content, uploaded concurrently, committed first.
        winner = repository.document_by_hash(session, ctx, digest)
        if winner is None:  # ... and was deleted again since
            raise Conflict("The same content was uploaded and deleted concurrently; send it again.") from exc
        return _reupload(session, ctx, winner)
    _start_ingestion(session, ctx, document)
    out = get_document(session, ctx, document.id)
    audit.record(session, ctx, "document.create", "document", document.id, after=_audited(out))
    return out, True


def _reupload(session: Session, ctx: TenantContext, row: DocumentRow) -> tuple[DocumentOut, bool]:
    if row.status != DocumentStatus.failed.value:
        return to_out(row), False
    document = row.document
    document.status = DocumentStatus.pending.value
    _start_ingestion(session, ctx, document)
    out = get_document(session, ctx, document.id)
    audit.record(session, ctx, "document.reingest", "document", document.id, before=_audited(to_out(row)),
                 after=_audited(out))
    return out, True


def _start_ingestion(session: Session, ctx: TenantContext, document: Document) -> None:
    run = runs.create_run(session, ctx, AGENT_NAME, {"document_id": str(document.id)})
    document.ingest_run_id = run.id
    session.flush()


def to_out(row: DocumentRow) -> DocumentOut:
    document = row.document
    error = None
    if row.status == DocumentStatus.failed.value:
        error = (row.run_error or {}).get("message") or f"The ingestion run ended {row.run_status}."
    return DocumentOut(
        id=document.id, title=document.title, content_type=document.content_type, filename=document.filename,
        tags=document.tags, status=DocumentStatus(row.status), error=error, chunk_count=document.chunk_count,
        size_bytes=document.size_bytes, content_hash=document.content_hash, embedding_model=document.embedding_model,
        embedding_dim=document.embedding_dim, run_id=document.ingest_run_id, created_at=document.created_at,
        updated_at=document.updated_at, ingested_at=document.ingested_at,
    )


def _audited(out: DocumentOut) -> dict[str, Any]:
    return out.model_dump(mode="json", include={"title", "content_type", "filename", "tags", "content_hash",
                                                "size_bytes", "status", "run_id"})


def get_document(session: Session, ctx: TenantContext, document_id: uuid.UUID) -> DocumentOut:
    row = repository.document_row(session, ctx, document_id)
    if row is None:
        raise NotFound(f"Document {document_id} was not found.")
    return to_out(row)






def list_documents(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
                   status: DocumentStatus | None, tag: str | None,
                   content_type: str | None) -> tuple[list[DocumentOut], str | None]:
    rows = repository.list_documents(session, ctx, limit=limit + 1, after=decode_cursor(cursor, uuid.UUID) if cursor else None,
                                     status=status, tag=tag.strip().lower() if tag else None,
                                     content_type=content_type)
    page = [to_out(row) for row in rows[:limit]]
    return page, encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None


def delete_document(session: Session, ctx: TenantContext, document_id: uuid.UUID) -> None:
    """Deletes the document and (by cascade, in the same statement) its chunks. An ingestion still
    running finds the document gone at its next step and stops."""
    document = get_or_404(session, ctx, Document, document_id, for_update=True, label="Document")
    authorize(ctx, Permission.write_data)
    before = _audited(get_document(session, ctx, document_id))
    session.delete(document)
    session.flush()
    audit.record(session, ctx, "document.delete", "document", document_id, before=before)


def reembed(session: Session, ctx: TenantContext) -> ReembedResult:
    """Start a re-embedding run for every ready document whose chunks are in another space than the
    tenant's current embedder's. Until each finishes, vector search ignores that document's chunks
    (full-text search still finds them)."""
    authorize(ctx, Permission.write_data)
    model = _embedder_model(session, ctx)
    run_ids = []
    for document in repository.stale_documents(session, ctx, model):
        _start_ingestion(session, ctx, document)
        run_ids.append(document.ingest_run_id)
    if run_ids:
        audit.record(session, ctx, "knowledge.reembed", "tenant", ctx.tenant_id,
                     after={"embedding_model": model, "documents": len(run_ids)})
    return ReembedResult(embedding_model=model, run_ids=run_ids)


def on_settings_changed(session: Session, ctx: TenantContext, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Called by the tenant settings update: a new embedder must be usable (else the change is refused,
    422), and then re-embeds the tenant's documents."""
    if before.get("knowledge") == after.get("knowledge"):
        return
    try:
        tenant_embedder(session, ctx.tenant_id)
    except RunError as exc:
        raise UnprocessableEntity(f"settings.knowledge: {exc.message}") from exc
    reembed(session, ctx)


def _embedder_model(session: Session, ctx: TenantContext) -> str:
    try:
        return tenant_embedder(session, ctx.tenant_id).model_id
    except RunError as exc:
        raise _unavailable(exc) from exc


def search(session: Session, ctx: TenantContext, request: SearchRequest) -> SearchResponse:
    space, vector = None, None
    try:
        if request.mode != "lexical":
            space, (vector,) = tenant_embedder(session, ctx.tenant_id).embed([request.query])
    except RunError as exc:
        raise _unavailable(exc) from exc
    hits = retrieval.search_by_vector(session, ctx, request.query, space, vector, top_k=request.top_k,
                                      tags=request.tags, mode=request.mode)
    return SearchResponse(hits=hits, mode=request.mode, embedding_model=space.model if space else None)


def _unavailable(exc: RunError) -> ServiceUnavailable:
    headers = None
    if isinstance(exc, TransientError) and exc.retry_after:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return ServiceUnavailable(f"The embedder cannot serve this request: {exc.message}", headers=headers)
