"""The knowledge queries: documents with their derived status, and the two retrievers' candidate sets."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import ARRAY, Select, Uuid, and_, any_, bindparam, case, func, literal, select, text, tuple_
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.scope import scoped
from app.knowledge.embedders import EmbeddingSpace
from app.knowledge.schemas import DocumentStatus
from app.models import AgentRun, Document, DocumentChunk
from app.models.knowledge import embedding_as, embedding_index_name
from app.runs.state import TERMINAL, RunStatus

UNFINISHED = (DocumentStatus.pending.value, DocumentStatus.processing.value)
TERMINAL_RUN_STATUSES = tuple(status.value for status in TERMINAL)

# A document is failed when its ingestion run ended (whatever the reason: a permanent error, retries
# exhausted, a cancel, a worker that kept dying) without the run making it ready. Deriving this from the
# run, instead of having the run write it, covers the endings in which the run's code never got to.
derived_status = case(
    (and_(Document.status.in_(UNFINISHED), AgentRun.status.in_(TERMINAL_RUN_STATUSES)),
     literal(DocumentStatus.failed.value)),
    else_=Document.status,
)


@dataclass(frozen=True)
class DocumentRow:
    document: Document
    status: str
    run_status: str | None
    run_error: dict[str, Any] | None


def _with_run(query: Select) -> Select:
    return (query.add_columns(derived_status.label("derived_status"), AgentRun.status, AgentRun.error)
            .outerjoin(AgentRun, AgentRun.id == Document.ingest_run_id))


def _rows(session: Session, query: Select) -> list[DocumentRow]:
    return [DocumentRow(document, status, run_status, run_error)
            for document, status, run_status, run_error in session.execute(query)]


def document_row(session: Session, ctx: TenantContext, document_id: uuid.UUID) -> DocumentRow | None:
    rows = _rows(session, _with_run(scoped(ctx, Document).where(Document.id == document_id)))
    return rows[0] if rows else None


def document_by_hash(session: Session, ctx: TenantContext, content_hash: str) -> DocumentRow | None:
    rows = _rows(session, _with_run(scoped(ctx, Document).where(Document.content_hash == content_hash)))
    return rows[0] if rows else None


def list_documents(session: Session, ctx: TenantContext, *, limit: int, after: tuple[datetime, uuid.UUID] | None,
                   status: DocumentStatus | None, tag: str | None, content_type: str | None) -> list[DocumentRow]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = _with_run(scoped(ctx, Document)).order_by(Document.created_at.desc(), Document.id.desc()).limit(limit)
    if after is not None:
        query = query.where(tuple_(Document.created_at, Document.id) < after)
    if status is not None:
        query = query.where(derived_status == status.value)
    if tag is not None:
        query = query.where(literal(tag) == any_(Document.tags))
    if content_type is not None:
        query = query.where(Document.content_type == content_type)
    return _rows(session, query)


def stale_documents(session: Session, ctx: TenantContext, model: str) -> list[Document]:
    """Ready documents embedded in another space than `model`'s, except those whose latest run has not
    started yet: an ingestion run picks the tenant's embedder when it starts, so that one will embed in
    the current space. A running one may already be past that point, so it does not count."""
    not_started = (RunStatus.queued.value, RunStatus.retry_scheduled.value)
    return list(session.scalars(
        scoped(ctx, Document)
        .outerjoin(AgentRun, AgentRun.id == Document.ingest_run_id)
        .where(Document.status == DocumentStatus.ready.value)
        .where(Document.embedding_model.is_distinct_from(model))
        .where(AgentRun.id.is_(None) | AgentRun.status.not_in(not_started))
        .with_for_update(of=Document)
    ))


# --- retrieval ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchScope:
    """The chunks a search may return: of ready documents, carrying one of the tags if any were given.
    `document_ids` is None when no tag narrows the documents."""

    chunks: int
    tenant_chunks: int
    document_ids: list[uuid.UUID] | None


@dataclass(frozen=True)
class Candidate:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    value: float  # cosine distance (vector; lower is closer) or full-text rank (lexical; higher is better)


def search_scope(session: Session, ctx: TenantContext, space: EmbeddingSpace | None,
                 tags: Sequence[str]) -> SearchScope:
    """Counted from the documents (few) rather than the chunks (many): `chunk_count` is kept per document.
    The ids of the tagged documents are collected only when there are tags to filter by."""
    in_space = (Document.embedding_model == space.model) & (Document.embedding_dim == space.dimension) \
        if space is not None else literal(True)
    tagged = Document.tags.overlap(list(tags)) if tags else literal(True)
    columns = [func.coalesce(func.sum(Document.chunk_count).filter(in_space), 0),
               func.coalesce(func.sum(Document.chunk_count).filter(in_space & tagged), 0)]
    if tags:
        columns.append(func.array_agg(Document.id).filter(tagged))
    row = session.execute(
        scoped(ctx, Document).with_only_columns(*columns).where(Document.status == DocumentStatus.ready.value)
    ).one()
    return SearchScope(chunks=row[1], tenant_chunks=row[0], document_ids=(row[2] or []) if tags else None)


def index_entries(session: Session, dimension: int) -> float | None:
    """The planner's estimate of how many vectors (of every tenant) the dimension's HNSW index holds;
    None before the table was first analysed."""
    estimate = session.scalar(select(text("reltuples")).select_from(text("pg_class"))
                              .where(text("relname = :name")).params(name=embedding_index_name(dimension)))
    return float(estimate) if estimate is not None and estimate > 0 else None


def _vector_param(space: EmbeddingSpace, vector: list[float]):
    return bindparam("query_vector", vector, type_=Vector(space.dimension))


def _document_filter(document_ids: list[uuid.UUID] | None):
    if document_ids is None:
        return literal(True)
    return DocumentChunk.document_id == any_(bindparam("document_ids", document_ids, type_=ARRAY(Uuid())))


def hnsw_candidates(session: Session, space: EmbeddingSpace, vector: list[float], *, ef_search: int, limit: int,
                    document_ids: list[uuid.UUID] | None) -> list[Candidate]:
    """Approximate nearest chunks through the HNSW index, then the scope's filters.

    pgvector 0.6 has no iterative index scans: the index yields at most `ef_search` vectors, of every
    tenant and document, and the filters apply to those only. The caller asks for enough (`ef_search`)
    to keep `limit` after filtering, and widens when it did not.
    """
    session.execute(select(func.set_config("hnsw.ef_search", str(ef_search), True)))
    return [Candidate(*row) for row in session.execute(
        hnsw_query(space, vector, ef_search=ef_search, limit=limit, document_ids=document_ids))]


def hnsw_query(space: EmbeddingSpace, vector: list[float], *, ef_search: int, limit: int,
               document_ids: list[uuid.UUID] | None) -> Select:
    # The nearest `ef_search` of the index first, then the filters it cannot apply itself.
    distance = embedding_as(space.dimension).cosine_distance(_vector_param(space, vector))
    nearest = (
        select(DocumentChunk.id, DocumentChunk.document_id, distance.label("distance"))
        .where(DocumentChunk.embedding_dim == space.dimension, DocumentChunk.embedding_model == space.model)
        .order_by(distance).limit(ef_search)
        .cte("nearest")
    )
    query = (
        select(nearest.c.id, nearest.c.document_id, nearest.c.distance)
        .join(Document, Document.id == nearest.c.document_id)
        .where(Document.status == DocumentStatus.ready.value)
        .order_by(nearest.c.distance).limit(limit)
    )
    if document_ids is not None:
        query = query.where(nearest.c.document_id == any_(bindparam("document_ids", document_ids,
                                                                    type_=ARRAY(Uuid()))))
    return query


def exact_candidates(session: Session, space: EmbeddingSpace, vector: list[float], *, limit: int,
                     document_ids: list[uuid.UUID] | None) -> list[Candidate]:
    """The true nearest chunks of the scope: every vector of the scope is compared. The scope is
    materialised first so that the planner cannot answer from the (approximate) index instead."""
    scope = (
        select(DocumentChunk.id, DocumentChunk.document_id, DocumentChunk.embedding)
        .join(Document, Document.id == DocumentChunk.document_id)
        .where(Document.status == DocumentStatus.ready.value)
        .where(DocumentChunk.embedding_dim == space.dimension, DocumentChunk.embedding_model == space.model)
        .where(_document_filter(document_ids))
        .cte("scope").prefix_with("MATERIALIZED")
    )
    distance = scope.c.embedding.cast(Vector(space.dimension)).cosine_distance(_vector_param(space, vector))
    query = select(scope.c.id, scope.c.document_id, distance.label("distance")).order_by(distance).limit(limit)
    return [Candidate(*row) for row in session.execute(query)]


def lexical_candidates(session: Session, query: str, *, min_share: float, limit: int,
                       document_ids: list[uuid.UUID] | None) -> list[Candidate]:
    """Chunks containing more than `min_share` of the query's words, those containing the most first,
    then by full-text rank (knowledge_lexical_candidates(), migration 0004, which can use the GIN index
    where a query under RLS cannot)."""
    rows = session.execute(
        text("SELECT chunk_id, document_id, score "
             "FROM knowledge_lexical_candidates(:query, :min_share, :document_ids, :limit)")
        .bindparams(bindparam("document_ids", type_=ARRAY(Uuid()))),
        {"query": query, "min_share": min_share, "document_ids": document_ids, "limit": limit},
    )
    return [Candidate(*row) for row in rows]


def chunks_with_titles(session: Session, ctx: TenantContext,
                       chunk_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[DocumentChunk, str]]:
    rows = session.execute(
        scoped(ctx, DocumentChunk).add_columns(Document.title)
        .join(Document, Document.id == DocumentChunk.document_id)
        .where(DocumentChunk.id.in_(list(chunk_ids)))
    )
    return {chunk.id: (chunk, title) for chunk, title in rows}
