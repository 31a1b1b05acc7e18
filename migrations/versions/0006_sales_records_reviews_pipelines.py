"""business records: leads, suppressions, price book, deals, email log; reviews and their decisions;
pipelines and their stages; all under RLS

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TENANT_TABLES = ("leads", "suppressions", "price_book_items", "deals", "pipelines", "reviews", "email_logs",
                 "pipeline_stages", "review_decisions")

# Beat's sweep reads across tenants through this function (ids only), then handles each item under its
# own tenant's binding. Open items past their deadline, or past their reminder time and not reminded.
REVIEWS_DUE = """
CREATE FUNCTION maintenance_reviews_due(p_limit integer)
RETURNS TABLE (tenant_id uuid, review_id uuid, action text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT r.tenant_id, r.id, CASE WHEN r.deadline_at <= now() THEN 'expire' ELSE 'remind' END
    FROM reviews r
    WHERE r.status IN ('pending', 'escalated')
      AND (r.deadline_at <= now() OR (r.reminded_at IS NULL AND r.remind_at <= now()))
    ORDER BY r.deadline_at LIMIT p_limit
$$;
"""

# Approved emails whose send was not heard of for a while (the task's message expired or was lost with
# the broker): the sweep publishes their send again; the send's lock and status check make that harmless.
EMAILS_STALLED = """
CREATE FUNCTION maintenance_emails_stalled(p_stale_seconds integer, p_limit integer)
RETURNS TABLE (tenant_id uuid, email_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.tenant_id, e.id FROM email_logs e
    WHERE e.status = 'approved' AND e.updated_at < now() - make_interval(secs => p_stale_seconds)
    ORDER BY e.updated_at LIMIT p_limit
$$;
"""


def upgrade() -> None:
    op.create_table('leads',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('industry', sa.String(length=120), nullable=True),
    sa.Column('company_size', sa.Integer(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('bucket', sa.String(length=16), nullable=True),
    sa.Column('qualification', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_leads_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('tenant_id', 'email', name=op.f('uq_leads_tenant_id'))
    )
    op.create_index('ix_leads_page', 'leads', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_leads_tenant_id'), 'leads', ['tenant_id'], unique=False)
    op.create_table('price_book_items',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('list_price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('billing_period', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_price_book_items_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_book_items')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_price_book_items_tenant_id'))
    )
    op.create_index(op.f('ix_price_book_items_tenant_id'), 'price_book_items', ['tenant_id'], unique=False)
    op.create_table('suppressions',
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_by_type', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_suppressions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('tenant_id', 'kind', 'value', name=op.f('uq_suppressions_tenant_id'))
    )
    op.create_index(op.f('ix_suppressions_tenant_id'), 'suppressions', ['tenant_id'], unique=False)
    op.create_table('deals',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('package_id', sa.Uuid(), nullable=True),
    sa.Column('package_code', sa.String(length=64), nullable=False),
    sa.Column('list_price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('proposal', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('pipeline_id', sa.Uuid(), nullable=True),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_deals_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_id'], ['price_book_items.id'], name=op.f('fk_deals_package_id_price_book_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_deals_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_deals_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deals')),
    sa.UniqueConstraint('tenant_id', 'lead_id', name=op.f('uq_deals_tenant_id'))
    )
    op.create_index('ix_deals_page', 'deals', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_deals_tenant_id'), 'deals', ['tenant_id'], unique=False)
    op.create_table('pipelines',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_stage', sa.String(length=32), nullable=True),
    sa.Column('stopped_reason', sa.Text(), nullable=True),
    sa.Column('requested_by_type', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_pipelines_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_pipelines_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines'))
    )
    op.create_index('ix_pipelines_page', 'pipelines', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_pipelines_tenant_id'), 'pipelines', ['tenant_id'], unique=False)
    op.create_table('reviews',
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('pipeline_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('proposal', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('citations', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('requested_by_type', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_reviews_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_reviews_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('tenant_id', 'entity_type', 'entity_id', name=op.f('uq_reviews_tenant_id'))
    )
    op.create_index('ix_reviews_deadline', 'reviews', ['deadline_at'], unique=False, postgresql_where=sa.text("status IN ('pending', 'escalated')"))
    op.create_index('ix_reviews_inbox', 'reviews', ['tenant_id', sa.literal_column("(status IN ('pending', 'escalated')) DESC"), sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_reviews_tenant_id'), 'reviews', ['tenant_id'], unique=False)
    op.create_table('email_logs',
    sa.Column('lead_id', sa.Uuid(), nullable=True),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('review_id', sa.Uuid(), nullable=True),
    sa.Column('pipeline_id', sa.Uuid(), nullable=True),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('citations', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('send_attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_email_logs_lead_id_leads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_email_logs_review_id_reviews'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_email_logs_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_logs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_logs')),
    sa.UniqueConstraint('message_id', name=op.f('uq_email_logs_message_id'))
    )
    op.create_index('ix_email_logs_page', 'email_logs', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_email_logs_tenant_id'), 'email_logs', ['tenant_id'], unique=False)
    op.create_table('pipeline_stages',
    sa.Column('pipeline_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('review_id', sa.Uuid(), nullable=True),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('waiting_for', sa.String(length=200), nullable=True),
    sa.Column('waiting_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_pipeline_stages_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_pipeline_stages_review_id_reviews'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_pipeline_stages_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_pipeline_stages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_stages')),
    sa.UniqueConstraint('pipeline_id', 'name', name='uq_pipeline_stages_name'),
    sa.UniqueConstraint('pipeline_id', 'position', name='uq_pipeline_stages_position')
    )
    op.create_index(op.f('ix_pipeline_stages_tenant_id'), 'pipeline_stages', ['tenant_id'], unique=False)
    op.create_table('review_decisions',
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('reviewer_type', sa.String(length=16), nullable=False),
    sa.Column('reviewer_id', sa.Uuid(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('approved_digest', sa.String(length=64), nullable=True),
    sa.Column('edited_output', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('diff', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_decisions_review_id_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_review_decisions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_decisions')),
    sa.UniqueConstraint('review_id', name=op.f('uq_review_decisions_review_id'))
    )
    op.create_index(op.f('ix_review_decisions_tenant_id'), 'review_decisions', ['tenant_id'], unique=False)
    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    op.execute(REVIEWS_DUE)
    op.execute(EMAILS_STALLED)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS maintenance_emails_stalled(integer, integer)")
    op.execute("DROP FUNCTION IF EXISTS maintenance_reviews_due(integer)")
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.drop_index(op.f('ix_review_decisions_tenant_id'), table_name='review_decisions')
    op.drop_table('review_decisions')
    op.drop_index(op.f('ix_pipeline_stages_tenant_id'), table_name='pipeline_stages')
    op.drop_table('pipeline_stages')
    op.drop_index(op.f('ix_email_logs_tenant_id'), table_name='email_logs')
    op.drop_index('ix_email_logs_page', table_name='email_logs')
    op.drop_table('email_logs')
    op.drop_index(op.f('ix_reviews_tenant_id'), table_name='reviews')
    op.drop_index('ix_reviews_inbox', table_name='reviews')
    op.drop_index('ix_reviews_deadline', table_name='reviews', postgresql_where=sa.text("status IN ('pending', 'escalated')"))
    op.drop_table('reviews')
    op.drop_index(op.f('ix_pipelines_tenant_id'), table_name='pipelines')
    op.drop_index('ix_pipelines_page', table_name='pipelines')
    op.drop_table('pipelines')
    op.drop_index(op.f('ix_deals_tenant_id'), table_name='deals')
    op.drop_index('ix_deals_page', table_name='deals')
    op.drop_table('deals')
    op.drop_index(op.f('ix_suppressions_tenant_id'), table_name='suppressions')
    op.drop_table('suppressions')
    op.drop_index(op.f('ix_price_book_items_tenant_id'), table_name='price_book_items')
    op.drop_table('price_book_items')
    op.drop_index(op.f('ix_leads_tenant_id'), table_name='leads')
    op.drop_index('ix_leads_page', table_name='leads')
    op.drop_table('leads')
