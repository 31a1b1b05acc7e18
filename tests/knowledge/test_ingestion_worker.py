"""Ingestion through the real path: API → outbox → Redis → a Celery worker process on the `knowledge`
queue → PostgreSQL, with files made here (a multi-page PDF, a markdown price book) and an OpenAI-wire
embedding server for the change of embedder."""

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.config import get_settings
from app.core.db import session_scope
from app.models import AgentRun, DocumentChunk
from tests.builders import committed_tenant
from tests.knowledge.fake_providers import FakeProvider
from tests.knowledge.files import HANDBOOK_PDF_PAGES, PRICE_BOOK_MD, pdf, pdf_without_text
from tests.runs.cluster import Cluster, engine_env, wait_until

pytestmark = pytest.mark.slow
DOCUMENTS = "/api/v1/knowledge/documents"
SEARCH = "/api/v1/knowledge/search"
BATCH_SIZE = 3


@pytest.fixture(scope="module")
def openai_server():
    with FakeProvider(dimension=1536) as server:
        yield server


@pytest.fixture(scope="module")
def worker(migrated, openai_server, tmp_path_factory):
    """One worker process for the module (knowledge queue, and maintenance for the outbox relay that
    publishes delayed retries) and beat; the API in this process and the worker both reach the fake
    OpenAI server."""
    provider_env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{openai_server.url}/v1",
                    "KNOWLEDGE_EMBED_BATCH_SIZE": str(BATCH_SIZE), "LLM_MAX_RETRIES": "0"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in provider_env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        cluster = Cluster(engine_env(migrated, **provider_env), tmp_path_factory.mktemp("knowledge-worker"))
        cluster.start_worker("knowledge", concurrency=2, queues="knowledge,maintenance")
        cluster.start_beat()
        yield cluster
        cluster.stop()
    get_settings.cache_clear()


def wait_for(client, headers, document_id: str, status: str, timeout: float = 30) -> dict:
    def reached() -> bool:
        return client.get(f"{DOCUMENTS}/{document_id}", headers=headers).json()["status"] == status

    wait_until(reached, timeout, message=f"document {document_id} did not become {status}")
    return client.get(f"{DOCUMENTS}/{document_id}", headers=headers).json()


def chunks_of(tenant_id, document_id) -> list[DocumentChunk]:
    with session_scope(tenant_id) as session:
        return list(session.scalars(select(DocumentChunk).where(DocumentChunk.document_id == document_id)
                                    .order_by(DocumentChunk.position)))


def ingest_runs(tenant_id) -> int:
    with session_scope(tenant_id) as session:
        return session.scalar(select(func.count()).select_from(AgentRun).where(AgentRun.agent == "knowledge_ingest"))


def test_a_pdf_and_a_markdown_file_are_ingested_and_searchable(committed_db, live_client, worker):
    tenant = committed_tenant(committed_db)
    writer, reader = tenant.headers(Role.operator), tenant.headers(Role.viewer)
    handbook = live_client.post(DOCUMENTS, headers=writer, files={"file": ("handbook.pdf", pdf(HANDBOOK_PDF_PAGES))},
                                data={"tags": ["support"]}).json()
    prices = live_client.post(DOCUMENTS, headers=writer, files={"file": ("price-book.md", PRICE_BOOK_MD.encode())},
                              data={"title": "Price book", "tags": ["pricing"]}).json()
    assert handbook["status"] == prices["status"] == "pending"

    handbook = wait_for(live_client, reader, handbook["id"], "ready")
    prices = wait_for(live_client, reader, prices["id"], "ready")
    assert [chunk.meta["page"] for chunk in chunks_of(tenant.id, handbook["id"])] == [1, 2, 3]
    price_chunks = chunks_of(tenant.id, prices["id"])
    assert handbook["chunk_count"] == 3 and prices["chunk_count"] == len(price_chunks) >= 4
    assert {tuple(chunk.meta["headings"]) for chunk in price_chunks} >= {
        ("Price book 2026", "Starter"), ("Price book 2026", "Growth", "Growth add-ons")}
    assert {(chunk.embedding_model, chunk.embedding_dim) for chunk in price_chunks} == {
        ("offline:lexical-hash-v1", 384)}

    run = live_client.get(f"/api/v1/runs/{prices['run_id']}", headers=reader).json()
    assert (run["agent"], run["status"], run["attempt"]) == ("knowledge_ingest", "succeeded", 1)
    batches = -(-len(price_chunks) // BATCH_SIZE)
    assert [step["name"] for step in run["steps"]] == [
        "chunk", *[f"embed:offline:lexical-hash-v1:{n}" for n in range(batches)], "finalize:offline:lexical-hash-v1"]
    assert run["output"]["outcome"] == "ready"

    hits = live_client.post(SEARCH, headers=reader,
                            json={"query": "refund of an annual plan", "top_k": 3}).json()["hits"]
    assert (hits[0]["document_id"], hits[0]["metadata"]) == (handbook["id"], {"page": 2})
    hits = live_client.post(SEARCH, headers=reader, json={"query": "call recorder add-on price",
                                                           "tags": ["pricing"]}).json()["hits"]
    assert hits[0]["metadata"]["headings"][-1] == "Growth add-ons"
    assert {hit["document_id"] for hit in hits} == {prices["id"]}


def test_uploading_again_adds_nothing_and_delete_removes_the_chunks(committed_db, live_client, worker):
    tenant = committed_tenant(committed_db)
    writer, reader = tenant.headers(Role.operator), tenant.headers(Role.viewer)
    first = live_client.post(DOCUMENTS, headers=writer, json={"title": "Price book", "content": PRICE_BOOK_MD,
                                                              "content_type": "text/markdown"}).json()
    ready = wait_for(live_client, reader, first["id"], "ready")
    chunk_ids = [chunk.id for chunk in chunks_of(tenant.id, first["id"])]

    again = live_client.post(DOCUMENTS, headers=writer, files={"file": ("copy.md", PRICE_BOOK_MD.encode())})
    assert again.status_code == 200 and again.json() == ready
    assert [chunk.id for chunk in chunks_of(tenant.id, first["id"])] == chunk_ids
    assert ingest_runs(tenant.id) == 1

    assert live_client.delete(f"{DOCUMENTS}/{first['id']}", headers=writer).status_code == 204
    assert chunks_of(tenant.id, first["id"]) == []
    assert live_client.post(SEARCH, headers=reader, json={"query": "Growth price"}).json()["hits"] == []
    # With the document gone, the same content is new again.
    anew = live_client.post(DOCUMENTS, headers=writer, json={"title": "Price book", "content": PRICE_BOOK_MD,
                                                             "content_type": "text/markdown"})
    assert anew.status_code == 202 and anew.json()["id"] != first["id"]
    wait_for(live_client, reader, anew.json()["id"], "ready")


def test_a_pdf_without_text_fails_with_the_reason(committed_db, live_client, worker):
    tenant = committed_tenant(committed_db)
    reader = tenant.headers(Role.viewer)
    scan = live_client.post(DOCUMENTS, headers=tenant.headers(Role.operator),
                            files={"file": ("scan.pdf", pdf_without_text())}).json()
    failed = wait_for(live_client, reader, scan["id"], "failed")
    assert "no extractable text" in failed["error"] and failed["chunk_count"] == 0
    run = live_client.get(f"/api/v1/runs/{scan['run_id']}", headers=reader).json()
    assert (run["status"], run["attempt"], run["error"]["code"]) == ("failed", 1, "no_text")


def test_a_new_embedder_re_embeds_through_the_worker_despite_a_provider_outage(committed_db, live_client, worker,
                                                                                openai_server):
    tenant = committed_tenant(committed_db)
    writer, reader = tenant.headers(Role.operator), tenant.headers(Role.viewer)
    document = live_client.post(DOCUMENTS, headers=writer, json={"title": "Price book", "content": PRICE_BOOK_MD,
                                                                 "content_type": "text/markdown"}).json()
    wait_for(live_client, reader, document["id"], "ready")
    openai_server.requests.clear()
    openai_server.fail_next(503)  # the first embedding call of the re-embedding run

    response = live_client.patch("/api/v1/tenant", headers=tenant.headers(Role.admin), json={"settings": {
        "knowledge": {"embedder": "openai", "embedding_model": "text-embedding-3-small"}}})
    assert response.status_code == 200, response.text

    def re_embedded() -> bool:
        body = live_client.get(f"{DOCUMENTS}/{document['id']}", headers=reader).json()
        return body["embedding_model"] == "openai:text-embedding-3-small"

    wait_until(re_embedded, 30, message="the document was not re-embedded")
    current = live_client.get(f"{DOCUMENTS}/{document['id']}", headers=reader).json()
    assert (current["status"], current["embedding_dim"]) == ("ready", 1536)
    chunks = chunks_of(tenant.id, document["id"])
    assert {(chunk.embedding_model, chunk.embedding_dim) for chunk in chunks} == {
        ("openai:text-embedding-3-small", 1536)}
    run = live_client.get(f"/api/v1/runs/{current['run_id']}", headers=reader).json()
    assert (run["status"], run["attempt"]) == ("succeeded", 2)  # the 503 was retried by the engine
    inputs = [request["body"]["input"] for request in openai_server.requests]
    assert all(len(batch) <= BATCH_SIZE for batch in inputs)
    assert sum(len(batch) for batch in inputs[1:]) == len(chunks)  # the failed call's batch, then every chunk once

    hits = live_client.post(SEARCH, headers=reader, json={"query": "enterprise discount approval", "mode": "vector"})
    assert hits.json()["embedding_model"] == "openai:text-embedding-3-small"
    assert hits.json()["hits"] and hits.json()["hits"][0]["document_id"] == document["id"]
