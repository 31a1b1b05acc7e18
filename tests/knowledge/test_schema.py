"""The knowledge tables as the migration leaves them: one HNSW index per supported dimension, used by
the vector query; full-text GIN; RLS; and vectors that cannot claim another space than their own."""

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from app.knowledge.embedders import EmbeddingSpace, OfflineEmbedder
from app.knowledge.repository import hnsw_candidates
from app.models import DocumentChunk
from app.models.knowledge import INDEXED_DIMENSIONS, embedding_index_name
from tests.builders import make_tenant
from tests.knowledge.helpers import ingest


def test_every_supported_dimension_has_a_partial_cosine_hnsw_index(owner_engine):
    with owner_engine.connect() as connection:
        indexes = dict(connection.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'document_chunks'")).all())
        tables = connection.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname IN ('documents', 'document_chunks')")).all()
    hnsw = {name: definition for name, definition in indexes.items() if "USING hnsw" in definition}
    assert set(hnsw) == {embedding_index_name(dimension) for dimension in INDEXED_DIMENSIONS}
    for dimension in INDEXED_DIMENSIONS:
        definition = hnsw[embedding_index_name(dimension)]
        assert f"vector({dimension})" in definition and "vector_cosine_ops" in definition
        assert f"WHERE (embedding_dim = {dimension})" in definition
    assert "USING gin (search_vector)" in indexes["ix_document_chunks_search_vector"]
    assert sorted(tables) == [("document_chunks", True, True), ("documents", True, True)]


def test_the_vector_query_uses_the_hnsw_index(db):
    tenant = make_tenant(db)
    ingest(db, tenant.id, "Onboarding", "The kickoff call happens within two business days.")
    space, (vector,) = OfflineEmbedder().embed(["kickoff"])
    executed = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "WITH nearest" in statement:
            executed.append((statement, parameters))

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        assert hnsw_candidates(db, space, vector, ef_search=40, limit=5, document_ids=None)
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    (statement, parameters), = executed
    # With a handful of rows, reading the tenant's rows and sorting them is cheaper, and the planner rightly
    # prefers it; forbid sorting to see whether the index can deliver the order itself.
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        connection.exec_driver_sql(f"SET LOCAL {setting} = off")
    plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    assert f"Index Scan using {embedding_index_name(384)}" in plan, plan


def test_a_vector_must_carry_its_true_size_and_model(db):
    tenant = make_tenant(db)
    document = ingest(db, tenant.id, "Notes", "Some text.")
    chunk = db.query(DocumentChunk).filter_by(document_id=document.id).one()
    for wrong in ({"embedding_dim": 768}, {"embedding_model": None}, {"embedding": [0.5] * 768}):
        with pytest.raises(IntegrityError, match="ck_document_chunks_embedding_space"), db.begin_nested():
            for name, value in wrong.items():
                setattr(chunk, name, value)
            db.flush()
        db.refresh(chunk)
    assert EmbeddingSpace(chunk.embedding_model, chunk.embedding_dim) == EmbeddingSpace("offline:lexical-hash-v1", 384)
