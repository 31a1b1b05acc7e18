import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    CheckConstraint, Computed, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, cast, func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin

# The vector dimensions that have an HNSW index (partial, on `embedding::vector(n)`; migration 0004).
# An embedder must produce one of these sizes; openai's text-embedding-3 models can be asked for any.
INDEXED_DIMENSIONS = (384, 768, 1024, 1536)
SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, context), 'A') || "
    "setweight(to_tsvector('english'::regconfig, text), 'D')"
)
# pgvector's defaults; bench/retrieval.py measured them with hnsw.ef_search (docs/performance.md).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


class Document(IdMixin, TenantMixin, TimestampMixin, Base):
    """A tenant's source document. `status` is pending → processing → ready as its ingestion run works;
    a document whose run ended without making it ready is reported as failed (app.knowledge.service)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "content_hash"),
        Index("ix_documents_page", "tenant_id", text("created_at DESC"), text("id DESC")),
    )

    title: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # The upload as received: kept so a document can be chunked again; never loaded by lists.
    source: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    status: Mapped[str] = mapped_column(String(16))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    ingest_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]
    ingested_at: Mapped[datetime | None]


class DocumentChunk(IdMixin, TenantMixin, Base):
    """One retrievable piece of a document, with its embedding and full-text vector.

    `embedding` has no fixed size so that tenants may use different embedders; `embedding_model` and
    `embedding_dim` say which space a vector lives in, and searches only compare vectors of one space.
    """

    __tablename__ = "document_chunks"
    __table_args__ = (
        UniqueConstraint("document_id", "position"),
        Index("ix_document_chunks_search_vector", "search_vector", postgresql_using="gin"),
        # A vector is labelled with its true size and model, so `embedding::vector(n)` under
        # `embedding_dim = n` can never fail and no vector is compared outside its space.
        CheckConstraint(
            "(embedding IS NULL AND embedding_dim IS NULL AND embedding_model IS NULL) OR "
            "(vector_dims(embedding) = embedding_dim AND embedding_model IS NOT NULL)",
            name="embedding_space",
        ),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # Where the chunk sits: its document's title and, in markdown, the heading path. A passage rarely
    # repeats its document's subject ("Refund policy"), so the context is embedded with the text and
    # weighs most (A) in the full-text vector.
    context: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    # Deferred: large, and read by the database (distances, ranks), seldom by Python.
    embedding: Mapped[Any] = deferred(mapped_column(Vector(), nullable=True))
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    search_vector: Mapped[Any] = deferred(mapped_column(TSVECTOR, Computed(SEARCH_VECTOR, persisted=True)))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


def embedding_index_name(dimension: int) -> str:
    return f"ix_document_chunks_embedding_{dimension}"


def embedding_as(dimension: int):
    """`embedding::vector(n)`: the expression the HNSW index of dimension n is built on. A query must order
    by exactly this expression (and filter on embedding_dim = n) for the planner to use that index."""
    return cast(DocumentChunk.__table__.c.embedding, Vector(dimension))


for _dimension in INDEXED_DIMENSIONS:
    Index(
        embedding_index_name(_dimension),
        embedding_as(_dimension).label(f"embedding_{_dimension}"),
        postgresql_using="hnsw",
        postgresql_with={"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
        postgresql_ops={f"embedding_{_dimension}": "vector_cosine_ops"},
        postgresql_where=text(f"embedding_dim = {_dimension}"),
    )
