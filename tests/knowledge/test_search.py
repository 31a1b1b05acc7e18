"""Search: tenant isolation under RLS, tag filters that still fill top_k through HNSW, embedding spaces
that are never mixed, re-embedding after a change of embedder, and the endpoint's errors."""

import socket
import uuid

import pytest
from sqlalchemy import func, select, text

from app.auth.permissions import Role
from app.core.config import get_settings
from app.core.context import TenantContext
from app.knowledge import repository, retrieval
from app.knowledge.embedders import OfflineEmbedder
from app.models import AgentRun, Document, DocumentChunk, Tenant
from tests.builders import make_tenant, rebind
from tests.knowledge.fake_providers import FakeProvider
from tests.knowledge.helpers import ingest, run_inline

SEARCH = "/api/v1/knowledge/search"
MODES = ("hybrid", "vector", "lexical")


@pytest.fixture
def hnsw_only(settings_env):
    """No exact search for small scopes: every vector search goes through the HNSW index."""
    settings_env(knowledge_exact_search_max_chunks="0")


def test_search_never_returns_another_tenants_chunks(db, client, hnsw_only):
    mine, theirs = make_tenant(db), make_tenant(db)
    ingest(db, theirs.id, "Refund policy", "Refunds of annual plans are paid pro rata within 30 days.")
    ingest(db, theirs.id, "Refund exceptions", "Refund requests after 30 days need the finance director.")
    own = ingest(db, mine.id, "Travel policy", "Book economy class for flights under six hours.")
    ctx = TenantContext.system(mine.id)
    rebind(db, mine.id)
    for mode in MODES:
        hits = retrieval.search(db, ctx, "refund policy for annual plans", top_k=5, mode=mode)
        assert {hit.document_id for hit in hits} <= {own.id}, mode
    response = client.post(SEARCH, headers=mine.headers(Role.viewer), json={"query": "refunds within 30 days"})
    assert response.status_code == 200
    assert {hit["document_id"] for hit in response.json()["hits"]} <= {str(own.id)}

    # Beneath the application's filters, PostgreSQL's: the runtime role bound to one tenant sees no other
    # tenant's chunk, not even through the full-text function, and sees nothing at all unbound.
    their_documents = [d.id for d in db.scalars(select(Document).where(Document.tenant_id == theirs.id))]
    assert their_documents == []
    assert db.scalar(select(func.count()).select_from(DocumentChunk).where(DocumentChunk.tenant_id == theirs.id)) == 0
    rebind(db, theirs.id)
    their_ids = list(db.scalars(select(Document.id)))
    rebind(db, mine.id)
    lexical = text("SELECT count(*) FROM knowledge_lexical_candidates(:query, 0, CAST(:ids AS uuid[]), 10)")
    assert db.scalar(lexical, {"query": "refund", "ids": their_ids}) == 0
    rebind(db, theirs.id)
    assert db.scalar(lexical, {"query": "refund", "ids": their_ids}) == 2  # the same call, their tenant bound
    db.execute(text("SELECT set_config('app.tenant_id', '', true)"))
    assert db.scalar(lexical, {"query": "refund policy", "ids": None}) == 0
    assert db.scalar(select(func.count()).select_from(DocumentChunk)) == 0


def _paragraphs(topic: str, count: int) -> str:
    return "\n\n".join(f"{topic} note {i}: " + " ".join([f"{topic} detail {i}"] * 25) for i in range(count))


def test_tag_filters_still_fill_top_k_through_hnsw(db, hnsw_only):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    for i in range(10):
        ingest(db, tenant.id, f"Pipeline {i}", _paragraphs(f"pipeline forecast quarter{i}", 30), tags=["sales"])
    rare = [ingest(db, tenant.id, f"Coaching {i}", f"Sleep and stress guidance number {i} for coaching clients.",
                   tags=["coaching"]) for i in range(12)]
    assert db.scalar(select(func.count()).select_from(DocumentChunk)) == 10 * 30 + 12

    query = "pipeline forecast for the quarter"
    space, (vector,) = OfflineEmbedder().embed([query])
    # What a plain filtered HNSW query returns: the index's nearest 40 are all untagged sales chunks.
    naive = repository.hnsw_candidates(db, space, vector, ef_search=40, limit=10,
                                       document_ids=[document.id for document in rare])
    assert len(naive) < 10

    hits = retrieval.search(db, ctx, query, top_k=10, tags=["coaching"], mode="vector")
    assert len(hits) == 10 and {hit.title for hit in hits} <= {document.title for document in rare}
    scope = repository.search_scope(db, ctx, space, ["coaching"])
    exact = repository.exact_candidates(db, space, vector, limit=10, document_ids=scope.document_ids)
    assert [hit.chunk_id for hit in hits] == [candidate.chunk_id for candidate in exact]
    hybrid = retrieval.search(db, ctx, query, top_k=10, tags=["coaching", "unknown"])
    assert len(hybrid) == 10 and {hit.title for hit in hybrid} <= {document.title for document in rare}
    assert retrieval.search(db, ctx, query, top_k=10, tags=["unknown"]) == []


def test_vector_search_compares_only_the_tenants_current_embedding_space(db, client, settings_env):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    document = ingest(db, tenant.id, "Onboarding", "The kickoff call happens within two business days.")
    with FakeProvider(dimension=768) as ollama:
        settings_env(ollama_host=ollama.url)
        row = db.get(Tenant, tenant.id)
        row.settings = {"knowledge": {"embedder": "ollama", "embedding_model": "nomic-embed-text"}}
        db.flush()
        # The chunks are still in the offline space: the vector side has nothing to compare, the
        # full-text side still finds the document.
        assert retrieval.search(db, ctx, "kickoff call", mode="vector") == []
        (hit,) = retrieval.search(db, ctx, "kickoff call")
        assert (hit.document_id, hit.vector_rank, hit.lexical_rank) == (document.id, None, 1)

        output = run_inline(db, tenant.id, document.id)
        assert (output.embedding_model, output.embedding_dim) == ("ollama:nomic-embed-text", 768)
        spaces = db.execute(select(DocumentChunk.embedding_model, DocumentChunk.embedding_dim).distinct()).all()
        assert spaces == [("ollama:nomic-embed-text", 768)]
        (hit,) = retrieval.search(db, ctx, "kickoff call", mode="vector")
        assert hit.document_id == document.id
        response = client.post(SEARCH, headers=tenant.headers(Role.viewer), json={"query": "kickoff call"})
        assert response.json()["embedding_model"] == "ollama:nomic-embed-text"
        assert [h["vector_rank"] for h in response.json()["hits"]] == [1]


def test_changing_the_embedder_starts_re_embedding_runs(db, client, settings_env):
    tenant = make_tenant(db)
    ready = [ingest(db, tenant.id, f"Doc {i}", f"Document number {i} about renewals.") for i in range(3)]
    with FakeProvider(dimension=768) as ollama:
        settings_env(ollama_host=ollama.url)
        response = client.patch("/api/v1/tenant", headers=tenant.headers(Role.admin),
                                json={"settings": {"knowledge": {"embedder": "ollama"}}})
        assert response.status_code == 200, response.text
    rebind(db, tenant.id)
    runs = {document.id: db.scalar(select(Document.ingest_run_id).where(Document.id == document.id))
            for document in ready}
    assert all(runs[document.id] != document.run_id for document in ready)
    queued = db.scalars(select(AgentRun).where(AgentRun.id.in_(runs.values()))).all()
    assert {(run.agent, run.status) for run in queued} == {("knowledge_ingest", "queued")}
    # Asking again while they are under way starts nothing new.
    again = client.post("/api/v1/knowledge/reembed", headers=tenant.headers(Role.operator))
    assert again.status_code == 202 and again.json() == {"embedding_model": "ollama:nomic-embed-text", "run_ids": []}


@pytest.mark.parametrize(("knowledge", "message"), [
    ({"embedder": "pinecone"}, "embedder"),
    ({"embedder": "openai"}, "OPENAI_API_KEY"),
    ({"embedder": "offline", "embedding_model": "bigger"}, "one model"),
])
def test_an_unusable_embedder_setting_is_refused(db, client, knowledge, message):
    tenant = make_tenant(db)
    response = client.patch("/api/v1/tenant", headers=tenant.headers(Role.admin),
                            json={"settings": {"knowledge": knowledge}})
    assert response.status_code == 422 and message in response.json()["detail"]
    assert client.get("/api/v1/tenant", headers=tenant.headers(Role.admin)).json()["settings"] == {}


@pytest.mark.parametrize("body", [{"query": ""}, {"query": "x", "top_k": 0}, {"query": "x", "top_k": 51},
                                  {"query": "x", "mode": "semantic"}, {"query": "x", "tags": "sales"}, {}])
def test_bad_search_requests_are_422(db, client, body):
    tenant = make_tenant(db)
    response = client.post(SEARCH, headers=tenant.headers(Role.viewer), json=body)
    assert response.status_code == 422 and response.json()["errors"]


def test_an_unreachable_embedder_is_503_and_lexical_search_still_works(db, client, settings_env):
    tenant = make_tenant(db)
    ingest(db, tenant.id, "Renewals", "Renewal reminders go out 60 days before the end of the contract.")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings_env(ollama_host=f"http://127.0.0.1:{port}", knowledge_embed_timeout_seconds="2")
    assert get_settings().ollama_host.endswith(str(port))
    row = db.get(Tenant, tenant.id)
    row.settings = {"knowledge": {"embedder": "ollama"}}
    db.flush()
    headers = tenant.headers(Role.viewer)
    response = client.post(SEARCH, headers=headers, json={"query": "renewal reminders"})
    assert response.status_code == 503 and "ollama" in response.json()["detail"]
    lexical = client.post(SEARCH, headers=headers, json={"query": "renewal reminders", "mode": "lexical"})
    assert lexical.status_code == 200 and [hit["title"] for hit in lexical.json()["hits"]] == ["Renewals"]
    assert lexical.json()["embedding_model"] is None
    assert uuid.UUID(lexical.json()["hits"][0]["chunk_id"])



@pytest.mark.parametrize("query", [
    "C:\\Users\\x\\renewals.txt", "it's O'Brien's renewal", "24/7 hotline", "mail@example.com http://x.y/z?q=1",
    "renewal & | ! ( ) <-> :* 'quoted'", "the of and", "ünïcödé renewal", "-- ; DROP TABLE documents",
    " ".join(f"word{i}" for i in range(40)),
])
def test_any_query_text_is_searched_without_error(db, query):
    tenant = make_tenant(db)
    ingest(db, tenant.id, "Renewals", "Renewal reminders go out 60 days before the end of the contract.")
    for mode in MODES:
        assert isinstance(retrieval.search(db, TenantContext.system(tenant.id), query, mode=mode), list)
