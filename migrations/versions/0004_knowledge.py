"""knowledge: documents, document_chunks (pgvector HNSW per dimension, generated tsvector + GIN); RLS;
the full-text candidate function

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TENANT_TABLES = ("documents", "document_chunks")
# Frozen here rather than imported, so that this revision keeps meaning what it meant; a new dimension is
# a new revision (and app.models.knowledge.INDEXED_DIMENSIONS, which a test keeps equal to the indexes).
INDEXED_DIMENSIONS = (384, 768, 1024, 1536)
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, context), 'A') || "
    "setweight(to_tsvector('english'::regconfig, text), 'D')"
)

# Creating an extension needs privileges the owner role may lack in production, where an operator
# installs pgvector once (MANUAL_TASKS_REQUIRED.md); only try when it is missing.
ENSURE_VECTOR_EXTENSION = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        CREATE EXTENSION vector;
    END IF;
END $$;
"""

# PostgreSQL will not use an index for a non-leakproof operator such as `tsvector @@ tsquery` under a
# row-level security policy (it would have to run the operator on rows the policy hides), so under RLS
# full-text search reads every chunk of the tenant. This function runs as the owner, which bypasses
# RLS, and applies the policy's own predicate itself: rows of the tenant bound to the transaction, and
# nothing when no tenant is bound. It returns ids and scores only. See docs/knowledge.md.
#
# The query's words (stemmed, stop words dropped) are OR-ed, and a chunk must contain more than
# p_min_share of them (Elasticsearch's minimum_should_match): a question rarely repeats every word of
# the passage that answers it, but a chunk sharing one word of a four-word question is noise, and
# rank fusion would count it as evidence. The GIN index checks that requirement itself, as "any
# `size` of the words" (a disjunction of their combinations: all the required ones for short queries,
# pairs or triples for long ones, where the count completes the check), so that the chunks that
# contain nothing but a common word are never read. PostgreSQL's ranking knows nothing of how rare a
# word is, so the score counts the distinct query words a chunk contains first; ts_rank_cd (context
# words weigh A, text D, divided by 1 + log(length) so that the denser of two chunks wins) orders
# chunks that contain as many: score = words matched + rank / (rank + 1).
LEXICAL_CANDIDATES = r"""
CREATE FUNCTION knowledge_lexical_candidates(p_query text, p_min_share double precision, p_document_ids uuid[],
                                             p_limit integer)
RETURNS TABLE (chunk_id uuid, document_id uuid, score real)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    words tsquery[] := ARRAY(SELECT quote_literal(lexeme)::tsquery
                             FROM unnest(tsvector_to_array(to_tsvector('english', p_query))) AS lexeme);
    n integer := cardinality(words);
    required integer := floor(n * p_min_share)::integer + 1;
    size integer := required;
    any_word tsquery;
    prefilter tsquery;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    WHILE size > 1 AND factorial(n) / (factorial(size) * factorial(n - size)) > 64 LOOP
        size := size - 1;
    END LOOP;
    SELECT string_agg(word::text, ' | ')::tsquery INTO any_word FROM unnest(words) AS word;
    WITH RECURSIVE combination(last, members) AS (
        SELECT i, ARRAY[i] FROM generate_series(1, n) AS i
        UNION ALL
        SELECT i, c.members || i FROM combination c, generate_series(c.last + 1, n) AS i
        WHERE cardinality(c.members) < size
    )
    SELECT string_agg('(' || (SELECT string_agg(words[m]::text, ' & ') FROM unnest(members) AS m) || ')', ' | ')
    INTO prefilter FROM combination WHERE cardinality(members) = size;

    -- The prefilter leaves few chunks: each one's document is looked up (LATERAL), not all documents hashed.
    RETURN QUERY
    SELECT c.id, c.document_id, (m.matched + ts_rank_cd(c.search_vector, any_word, 1 | 32))::real AS score
    FROM document_chunks c
    CROSS JOIN LATERAL (SELECT count(*) AS matched FROM unnest(words) AS word WHERE c.search_vector @@ word) m
    JOIN LATERAL (SELECT 1 FROM documents d WHERE d.id = c.document_id AND d.tenant_id = c.tenant_id
                  AND d.status = 'ready') ready ON true
    WHERE c.search_vector @@ prefilter
      AND c.tenant_id = app_current_tenant()
      AND (p_document_ids IS NULL OR c.document_id = ANY (p_document_ids))
      AND m.matched >= required
    ORDER BY 3 DESC, c.id
    LIMIT p_limit;
END
$$;
"""


def upgrade() -> None:
    op.execute(ENSURE_VECTOR_EXTENSION)
    op.create_table('documents',
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('source', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('chunk_count', sa.Integer(), nullable=False),
    sa.Column('embedding_model', sa.String(length=200), nullable=True),
    sa.Column('embedding_dim', sa.Integer(), nullable=True),
    sa.Column('ingest_run_id', sa.Uuid(), nullable=True),
    sa.Column('created_by_type', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['ingest_run_id'], ['agent_runs.id'], name=op.f('fk_documents_ingest_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_documents_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('tenant_id', 'content_hash', name=op.f('uq_documents_tenant_id'))
    )
    op.create_index('ix_documents_page', 'documents', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_documents_tenant_id'), 'documents', ['tenant_id'], unique=False)
    op.create_table('document_chunks',
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('context', sa.Text(), nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('embedding', Vector(), nullable=True),
    sa.Column('embedding_model', sa.String(length=200), nullable=True),
    sa.Column('embedding_dim', sa.Integer(), nullable=True),
    sa.Column('search_vector', postgresql.TSVECTOR(), sa.Computed(SEARCH_VECTOR, persisted=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_chunks_document_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_document_chunks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.CheckConstraint('(embedding IS NULL AND embedding_dim IS NULL AND embedding_model IS NULL) OR (vector_dims(embedding) = embedding_dim AND embedding_model IS NOT NULL)', name=op.f('ck_document_chunks_embedding_space')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_chunks')),
    sa.UniqueConstraint('document_id', 'position', name=op.f('uq_document_chunks_document_id'))
    )
    op.create_index('ix_document_chunks_search_vector', 'document_chunks', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_document_chunks_tenant_id'), 'document_chunks', ['tenant_id'], unique=False)
    # One partial HNSW index per dimension on `embedding::vector(n)` (pgvector's recipe for a column
    # holding vectors of several sizes); queries order by the same expression and filter on embedding_dim.
    for dimension in INDEXED_DIMENSIONS:
        op.execute(
            f"CREATE INDEX ix_document_chunks_embedding_{dimension} ON document_chunks "
            f"USING hnsw ((CAST(embedding AS vector({dimension}))) vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE embedding_dim = {dimension}"
        )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    op.execute(LEXICAL_CANDIDATES)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS knowledge_lexical_candidates(text, double precision, uuid[], integer)")
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.drop_table('document_chunks')
    op.drop_index(op.f('ix_documents_tenant_id'), table_name='documents')
    op.drop_index('ix_documents_page', table_name='documents')
    op.drop_table('documents')
