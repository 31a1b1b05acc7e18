"""Hybrid retrieval, for the search endpoint and for agents.

Two retrievers each propose candidates: the vector side (cosine distance in the tenant's embedding
space, through HNSW, or exactly when the scope is small) and the full-text side (PostgreSQL ranking of
the query's words). Reciprocal rank fusion (Cormack et al., 2009) merges them: a chunk scores
sum(1 / (k + rank)) over the lists it is in, so agreement wins and neither retriever's raw scores,
which are not comparable, need calibrating. docs/knowledge.md explains the choices and figures.

Agents call `retrieve()` inside their run: the hits are stored as a step, so a run executed again
after a crash cites the very chunks it cited before, and `Citation`s go into the run's output.
"""

import math
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from app.agents.base import RunContext
from app.core.config import get_settings
from app.core.context import TenantContext
from app.knowledge import repository
from app.knowledge.embedders import EmbeddingSpace, tenant_embedder
from app.knowledge.repository import Candidate, SearchScope
from app.knowledge.schemas import Citation, SearchHit, SearchMode

# pgvector's ceiling for hnsw.ef_search: past it the index cannot yield more, and the search is exact.
MAX_EF_SEARCH = 1000
# How many more candidates than needed to ask the index for, against the estimate being optimistic.
OVERFETCH = 2.0


def search(session: Session, ctx: TenantContext, query: str, top_k: int = 5, tags: Sequence[str] | None = None,
           mode: SearchMode = "hybrid") -> list[SearchHit]:
    """The `top_k` chunks of the tenant's ready documents that best answer `query`, best first, from
    documents carrying at least one of `tags` when given. Raises the embedder's TransientError or
    PermanentError (app.runs.errors) when the query cannot be embedded."""
    if mode == "lexical":
        return search_by_vector(session, ctx, query, None, None, top_k=top_k, tags=tags, mode=mode)
    space, (vector,) = tenant_embedder(session, ctx.tenant_id).embed([query])
    return search_by_vector(session, ctx, query, space, vector, top_k=top_k, tags=tags, mode=mode)


def search_by_vector(session: Session, ctx: TenantContext, query: str, space: EmbeddingSpace | None,
                     vector: list[float] | None, *, top_k: int, tags: Sequence[str] | None = None,
                     mode: SearchMode = "hybrid") -> list[SearchHit]:
    """`search` with the query already embedded (in `space`); for callers that hold the vector."""
    if mode != "lexical" and (space is None or vector is None):
        raise ValueError(f"a {mode} search needs the query's vector and its space")
    settings = get_settings()
    tags = list(tags or [])
    scope = repository.search_scope(session, ctx, space, tags)
    if scope.document_ids == []:
        return []
    candidates = max(top_k, settings.knowledge_search_candidates) if mode == "hybrid" else top_k
    vector_hits: list[Candidate] = []
    lexical_hits: list[Candidate] = []
    if space is not None and vector is not None and mode != "lexical":
        vector_hits = vector_candidates(session, space, vector, scope, candidates)
    if mode != "vector":
        lexical_hits = repository.lexical_candidates(session, query, min_share=settings.knowledge_lexical_min_share,
                                                     limit=candidates, document_ids=scope.document_ids)
    if mode == "vector":
        ranked = [(c.chunk_id, 1.0 - c.value) for c in vector_hits]
    elif mode == "lexical":
        ranked = [(c.chunk_id, c.value) for c in lexical_hits]
    else:
        ranked = fuse(vector_hits, lexical_hits, settings.knowledge_rrf_k)
    return _hits(session, ctx, ranked[:top_k], vector_hits, lexical_hits)


def vector_candidates(session: Session, space: EmbeddingSpace, vector: list[float], scope: SearchScope,
                      limit: int) -> list[Candidate]:
    """The `limit` nearest chunks of the scope, without iterative index scans (pgvector 0.6).

    A small scope is searched exactly: it is cheap and cannot miss. Otherwise HNSW is asked for enough
    candidates that `limit` survive the filters it cannot apply itself (the tenant, tags, the
    embedding model): the scope's share of the index, estimated from the tenant's chunk counts and the
    index size, sets the first `hnsw.ef_search`; if fewer come back, the search widens (doubling) and
    ends exact once the index cannot yield more.
    """
    settings = get_settings()
    if scope.chunks <= settings.knowledge_exact_search_max_chunks:
        return repository.exact_candidates(session, space, vector, limit=limit, document_ids=scope.document_ids)
    share = scope.chunks / max(repository.index_entries(session, space.dimension) or 0, scope.tenant_chunks, 1)
    needed = limit if share >= 1 else math.ceil(limit * OVERFETCH / share)
    ef_search = max(settings.knowledge_hnsw_ef_search, needed)
    while ef_search <= MAX_EF_SEARCH:
        found = repository.hnsw_candidates(session, space, vector, ef_search=ef_search, limit=limit,
                                           document_ids=scope.document_ids)
        if len(found) >= limit or len(found) >= scope.chunks:
            return found
        if ef_search == MAX_EF_SEARCH:
            break
        ef_search = min(ef_search * 2, MAX_EF_SEARCH)
    return repository.exact_candidates(session, space, vector, limit=limit, document_ids=scope.document_ids)


def fuse(vector: list[Candidate], lexical: list[Candidate], k: int) -> list[tuple[uuid.UUID, float]]:
    """Reciprocal rank fusion of two best-first candidate lists, with tied candidates sharing a rank
    (full-text scores tie often: chunks containing the same query words), so that the order in which
    the database returned equals cannot change the fused result. Equal fused scores go to the vector
    side's candidate, then to the better rank."""
    scores: dict[uuid.UUID, float] = {}
    order: dict[uuid.UUID, tuple[int, int]] = {}
    for side, ranking in enumerate((vector, lexical)):
        for candidate, rank in zip(ranking, shared_ranks(ranking)):
            scores[candidate.chunk_id] = scores.get(candidate.chunk_id, 0.0) + 1.0 / (k + rank)
            order.setdefault(candidate.chunk_id, (side, rank))
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def shared_ranks(ranking: list[Candidate]) -> list[int]:
    """1-based competition ranks ("1224") of a best-first list: equal values share the better rank."""
    ranks: list[int] = []
    for position, candidate in enumerate(ranking):
        tied = position > 0 and candidate.value == ranking[position - 1].value
        ranks.append(ranks[-1] if tied else position + 1)
    return ranks


def _hits(session: Session, ctx: TenantContext, ranked: list[tuple[uuid.UUID, float]], vector_hits: list[Candidate],
          lexical_hits: list[Candidate]) -> list[SearchHit]:
    rows = repository.chunks_with_titles(session, ctx, [chunk_id for chunk_id, _ in ranked])
    vector_rank = {c.chunk_id: rank for c, rank in zip(vector_hits, shared_ranks(vector_hits))}
    lexical_rank = {c.chunk_id: rank for c, rank in zip(lexical_hits, shared_ranks(lexical_hits))}
    hits = []
    for chunk_id, score in ranked:
        chunk, title = rows[chunk_id]
        hits.append(SearchHit(document_id=chunk.document_id, title=title, chunk_id=chunk.id, text=chunk.text,
                              score=score, metadata=chunk.meta, vector_rank=vector_rank.get(chunk_id),
                              lexical_rank=lexical_rank.get(chunk_id)))
    return hits


def retrieve(ctx: RunContext, step: str, query: str, *, top_k: int = 5,
             tags: Sequence[str] | None = None) -> list[SearchHit]:
    """`search` as a step of an agent's run: the hits are stored once, and a re-executed run gets the
    same hits back (and cites the same chunks) even if the documents changed in between."""
    stored = ctx.step(step, lambda session: [
        hit.model_dump(mode="json") for hit in search(session, ctx.context, query, top_k=top_k, tags=tags)])
    return [SearchHit.model_validate(hit) for hit in stored]


def citations(hits: Iterable[SearchHit]) -> list[Citation]:
    """The citations for the hits an agent used, for its run output."""
    return [Citation.from_hit(hit) for hit in hits]
