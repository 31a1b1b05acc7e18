"""The knowledge endpoints: accepting documents (and refusing bad ones without storing anything),
deduplication, listing, reading, deleting, the document status derived from its run, and the roles."""

import uuid

import pytest
from sqlalchemy import func, select, update

from app.auth.permissions import Role
from app.models import AgentRun, AuditLog, Document, DocumentChunk, OutboxMessage
from tests.builders import make_tenant, rebind
from tests.knowledge.files import HANDBOOK_PDF_PAGES, PRICE_BOOK_MD, pdf
from tests.knowledge.helpers import ingest

DOCUMENTS = "/api/v1/knowledge/documents"
WRITERS = {Role.owner, Role.admin, Role.operator}


def count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_a_text_document_is_accepted_pending_with_its_ingestion_run(db, client):
    tenant = make_tenant(db)
    response = client.post(DOCUMENTS, headers=tenant.headers(Role.operator), json={
        "title": "Ideal customer profile", "content": "B2B SaaS companies with 50 to 500 employees.",
        "content_type": "text/plain", "tags": ["ICP", " sales ", "icp"]})
    assert response.status_code == 202, response.text
    document = response.json()
    assert (document["status"], document["chunk_count"], document["error"]) == ("pending", 0, None)
    assert document["tags"] == ["icp", "sales"] and document["filename"] is None

    run = client.get(f"/api/v1/runs/{document['run_id']}", headers=tenant.headers(Role.viewer)).json()
    assert (run["agent"], run["status"]) == ("knowledge_ingest", "queued")
    assert run["input"] == {"document_id": document["id"]}
    message = db.scalars(select(OutboxMessage).where(OutboxMessage.kwargs["run_id"].astext == document["run_id"])).one()
    assert (message.task, message.queue) == ("runs.execute", "knowledge")
    audit = db.scalars(select(AuditLog).where(AuditLog.entity_id == document["id"])).one()
    assert (audit.action, audit.after["title"]) == ("document.create", "Ideal customer profile")


def test_files_are_uploaded_as_multipart(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    markdown = client.post(DOCUMENTS, headers=headers, files={"file": ("price-book.md", PRICE_BOOK_MD.encode())},
                           data={"tags": ["pricing", "2026"]})
    assert markdown.status_code == 202, markdown.text
    assert (markdown.json()["title"], markdown.json()["content_type"], markdown.json()["tags"]) == (
        "price-book.md", "text/markdown", ["pricing", "2026"])
    handbook = client.post(DOCUMENTS, headers=headers, data={"title": "Handbook"},
                           files={"file": ("handbook.pdf", pdf(HANDBOOK_PDF_PAGES), "application/octet-stream")})
    assert handbook.status_code == 202, handbook.text
    assert (handbook.json()["title"], handbook.json()["content_type"], handbook.json()["filename"]) == (
        "Handbook", "application/pdf", "handbook.pdf")


def test_identical_content_is_one_document(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    first = client.post(DOCUMENTS, headers=headers, json={"title": "Price book", "content": PRICE_BOOK_MD,
                                                          "content_type": "text/markdown"})
    again = client.post(DOCUMENTS, headers=headers, files={"file": ("prices.md", PRICE_BOOK_MD.encode())})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["run_id"] == first.json()["run_id"]
    # The same text as another type is chunked differently, so it is another document.
    plain = client.post(DOCUMENTS, headers=headers, json={"title": "Price book", "content": PRICE_BOOK_MD})
    assert plain.status_code == 202 and plain.json()["id"] != first.json()["id"]
    assert count(db, Document) == 2 and count(db, AgentRun, AgentRun.agent == "knowledge_ingest") == 2


def test_idempotency_key_replays_the_first_response(db, client):
    tenant = make_tenant(db)
    headers = {**tenant.headers(Role.operator), "Idempotency-Key": "upload-1"}
    body = {"title": "Notes", "content": "Call the customer back on Monday."}
    first = client.post(DOCUMENTS, headers=headers, json=body)
    replay = client.post(DOCUMENTS, headers=headers, json=body)
    assert (first.status_code, replay.status_code) == (202, 202)
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    other = client.post(DOCUMENTS, headers=headers, json={**body, "content": "Something else."})
    assert other.status_code == 422
    assert count(db, Document) == 1


LOCKED_PDF = pdf([["secret"]], password="s3cret")


@pytest.mark.parametrize(("request_kwargs", "status", "field"), [
    ({"json": {"content": "no title"}}, 422, "title"),
    ({"json": {"title": "Blank", "content": "  \n "}}, 422, None),
    ({"json": {"title": "T", "content": "x", "content_type": "application/pdf"}}, 422, "content_type"),
    ({"json": {"title": "T", "content": "x", "owner": "me"}}, 422, "owner"),
    ({"json": {"title": "T", "content": "x", "tags": [f"t{i}" for i in range(21)]}}, 422, "tags"),
    ({"json": {"title": "T", "content": "x", "tags": ["x" * 65]}}, 422, "tags.0"),
    ({"json": {"title": "T", "content": "nul \u0000 byte"}}, 422, None),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, None),
    ({"content": b"plain body", "headers": {"content-type": "text/plain"}}, 415, None),
    ({"files": {"file": ("report.docx", b"PK\x03\x04")}}, 415, None),
    ({"files": {"file": ("empty.txt", b"")}}, 422, None),
    ({"files": {"file": ("latin1.txt", "café".encode("latin-1"))}}, 422, None),
    ({"files": {"file": ("fake.pdf", b"%PDF-1.7 this is not a pdf")}}, 422, None),
    ({"files": {"file": ("locked.pdf", LOCKED_PDF)}}, 422, None),
    ({"files": {"other": ("notes.txt", b"hello")}}, 422, "file"),
    ({"files": {"file": ("notes.txt", b"hello")}, "data": {"title": " "}}, 422, "title"),
    ({"json": {"title": "Big", "content": "x" * 1_100_000}}, 413, None),
    ({"files": {"file": ("big.txt", b"x" * (10 * 1_048_576 + 1))}}, 413, None),
])
def test_bad_input_is_a_4xx_problem_and_nothing_is_stored(db, client, request_kwargs, status, field):
    tenant = make_tenant(db)
    audit_before = count(db, AuditLog)
    request_kwargs = dict(request_kwargs)
    headers = {**tenant.headers(Role.operator), **request_kwargs.pop("headers", {})}
    response = client.post(DOCUMENTS, headers=headers, **request_kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["detail"] and problem["status"] == status
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    rebind(db, tenant.id)
    assert (count(db, Document), count(db, AgentRun), count(db, AuditLog)) == (0, 0, audit_before)


def test_list_filters_and_paginates(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.viewer)
    ready = ingest(db, tenant.id, "Playbook", "Discovery call questions.", tags=["sales"])
    for i in range(4):
        client.post(DOCUMENTS, headers=tenant.headers(Role.operator),
                    json={"title": f"Note {i}", "content": f"note {i}", "tags": ["notes"] if i % 2 else []})
    client.post(DOCUMENTS, headers=tenant.headers(Role.operator), files={"file": ("h.pdf", pdf(HANDBOOK_PDF_PAGES))})

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(DOCUMENTS, headers=headers, params=params).json()
        pages.append([item["title"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    titles = [title for page in pages for title in page]
    assert [len(page) for page in pages] == [2, 2, 2] and len(set(titles)) == 6

    def titles_for(**params) -> set[str]:
        return {item["title"] for item in client.get(DOCUMENTS, headers=headers, params=params).json()["items"]}

    assert titles_for(status="ready") == {"Playbook"}
    assert titles_for(status="pending") == {"Note 0", "Note 1", "Note 2", "Note 3", "h.pdf"}
    assert titles_for(tag="NOTES") == {"Note 1", "Note 3"}
    assert titles_for(content_type="application/pdf") == {"h.pdf"}
    one = client.get(f"{DOCUMENTS}/{ready.id}", headers=headers).json()
    assert (one["status"], one["chunk_count"], one["embedding_model"], one["embedding_dim"]) == (
        "ready", 1, "offline:lexical-hash-v1", 384)
    assert client.get(DOCUMENTS, headers=headers, params={"cursor": "garbage"}).status_code == 400
    assert client.get(DOCUMENTS, headers=headers, params={"status": "lost"}).status_code == 422
    assert client.get(f"{DOCUMENTS}/{uuid.uuid4()}", headers=headers).status_code == 404


def test_a_document_whose_run_ended_unsuccessfully_is_failed_and_can_be_uploaded_again(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    body = {"title": "Scan", "content": "short"}
    document = client.post(DOCUMENTS, headers=headers, json=body).json()
    rebind(db, tenant.id)
    db.execute(update(AgentRun).where(AgentRun.id == document["run_id"]).values(
        status="dead_lettered", error={"type": "TransientError", "code": "provider_unavailable",
                                       "message": "openai embeddings: HTTP 503", "retryable": True}))
    failed = client.get(f"{DOCUMENTS}/{document['id']}", headers=headers).json()
    assert (failed["status"], failed["error"]) == ("failed", "openai embeddings: HTTP 503")
    assert [d["id"] for d in client.get(DOCUMENTS, headers=headers, params={"status": "failed"}).json()["items"]] == [
        document["id"]]

    again = client.post(DOCUMENTS, headers=headers, json=body)
    assert again.status_code == 202
    assert again.json()["id"] == document["id"] and again.json()["run_id"] != document["run_id"]
    assert (again.json()["status"], again.json()["error"]) == ("pending", None)


def test_delete_removes_the_document_and_its_chunks(db, client):
    tenant = make_tenant(db)
    document = ingest(db, tenant.id, "Price book", PRICE_BOOK_MD, content_type="text/markdown")
    assert count(db, DocumentChunk, DocumentChunk.document_id == document.id) == document.chunk_count > 1

    assert client.delete(f"{DOCUMENTS}/{document.id}", headers=tenant.headers(Role.viewer)).status_code == 403
    assert client.delete(f"{DOCUMENTS}/{document.id}", headers=tenant.headers(Role.operator)).status_code == 204
    assert client.get(f"{DOCUMENTS}/{document.id}", headers=tenant.headers(Role.viewer)).status_code == 404
    rebind(db, tenant.id)
    assert count(db, DocumentChunk, DocumentChunk.document_id == document.id) == 0
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "document.delete")).one()
    assert audit.entity_id == str(document.id) and audit.before["title"] == "Price book"
    search = client.post("/api/v1/knowledge/search", headers=tenant.headers(Role.viewer),
                         json={"query": "Starter price"})
    assert search.json()["hits"] == []


def test_role_matrix_and_another_tenants_documents_are_404(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs = ingest(db, other.id, "Their secret", "Confidential plans of the other tenant.")
    rebind(db, tenant.id)
    for role in Role:
        headers = tenant.headers(role)
        writer = role in WRITERS
        mine = ingest(db, tenant.id, f"Doc of {role}", f"Text written for the {role} role.")

        assert client.get(DOCUMENTS, headers=headers).status_code == 200
        assert client.get(f"{DOCUMENTS}/{mine.id}", headers=headers).status_code == 200
        assert client.post("/api/v1/knowledge/search", headers=headers, json={"query": "text"}).status_code == 200
        created = client.post(DOCUMENTS, headers=headers, json={"title": "New", "content": f"new by {role}"})
        assert created.status_code == (202 if writer else 403)
        assert client.post("/api/v1/knowledge/reembed", headers=headers).status_code == (202 if writer else 403)
        assert client.delete(f"{DOCUMENTS}/{mine.id}", headers=headers).status_code == (204 if writer else 403)

        assert client.get(f"{DOCUMENTS}/{theirs.id}", headers=headers).status_code == 404
        assert client.delete(f"{DOCUMENTS}/{theirs.id}", headers=headers).status_code == 404
        rebind(db, tenant.id)
    assert client.get(DOCUMENTS, headers=tenant.headers(Role.owner)).json()["items"] != []
    assert all(item["title"] != "Their secret"
               for item in client.get(DOCUMENTS, headers=tenant.headers(Role.owner)).json()["items"])
    rebind(db, other.id)
    assert count(db, Document, Document.id == theirs.id) == 1
