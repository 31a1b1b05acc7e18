import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.knowledge.parsing import TEXT_PLAIN

MAX_TAGS = 20


class DocumentStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    ready = "ready"
    failed = "failed"


SearchMode = Literal["hybrid", "vector", "lexical"]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique)]


class DocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    content: str = Field(min_length=1, description="The document's text (the request body limit applies)")
    content_type: Literal["text/plain", "text/markdown"] = TEXT_PLAIN
    tags: Tags = []


class DocumentOut(BaseModel):
    id: uuid.UUID
    title: str
    content_type: str
    filename: str | None
    tags: list[str]
    status: DocumentStatus
    error: str | None = Field(description="Why ingestion failed, when status is failed")
    chunk_count: int
    size_bytes: int
    content_hash: str
    embedding_model: str | None
    embedding_dim: int | None
    run_id: uuid.UUID | None = Field(description="The latest ingestion run (GET /api/v1/runs/{id})")
    created_at: datetime
    updated_at: datetime
    ingested_at: datetime | None


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    top_k: int = Field(5, ge=1, le=50)
    tags: Tags = Field([], description="Only documents carrying at least one of these tags")
    mode: SearchMode = Field("hybrid", description="hybrid (default), or one retriever alone, for diagnosis")


class SearchHit(BaseModel):
    """One retrieved chunk. `score` is the fused reciprocal-rank score in hybrid mode, the cosine
    similarity in vector mode and the full-text rank in lexical mode; higher is better in all three."""

    document_id: uuid.UUID
    title: str
    chunk_id: uuid.UUID
    text: str
    score: float
    metadata: dict[str, Any]
    vector_rank: int | None = Field(None, description="1-based rank among the vector candidates, if there")
    lexical_rank: int | None = Field(None, description="1-based rank among the full-text candidates, if there")


class SearchResponse(BaseModel):
    hits: list[SearchHit]
    mode: SearchMode
    embedding_model: str | None = Field(description="The embedding space compared (absent in lexical mode)")


class Citation(BaseModel):
    """What an agent used: put these in the run output so a reader can open the exact chunks."""

    document_id: uuid.UUID
    chunk_id: uuid.UUID
    score: float

    @classmethod
    def from_hit(cls, hit: SearchHit) -> "Citation":
        return cls(document_id=hit.document_id, chunk_id=hit.chunk_id, score=hit.score)


class ReembedResult(BaseModel):
    embedding_model: str
    run_ids: list[uuid.UUID] = Field(description="One ingestion run per document re-embedded")

