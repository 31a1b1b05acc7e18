"""llm: llm_logs, llm_usage_daily, prompt_versions, prompt_activations; RLS; the run metrics index

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TENANT_TABLES = ("llm_logs", "llm_usage_daily", "prompt_versions", "prompt_activations")


def upgrade() -> None:
    op.create_table('llm_usage_daily',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('failed_calls', sa.BigInteger(), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cached_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_llm_usage_daily_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'day', 'agent', 'provider', name=op.f('pk_llm_usage_daily'))
    )
    op.create_table('prompt_activations',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('updated_by_type', sa.String(length=16), nullable=False),
    sa.Column('updated_by_id', sa.Uuid(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source = 'default' OR version IS NOT NULL", name=op.f('ck_prompt_activations_tenant_version')),
    sa.CheckConstraint("source IN ('default', 'tenant')", name=op.f('ck_prompt_activations_source')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_prompt_activations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_prompt_activations'))
    )
    op.create_table('prompt_versions',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('system_template', sa.Text(), nullable=False),
    sa.Column('user_template', sa.Text(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('created_by_type', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_prompt_versions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_versions')),
    sa.UniqueConstraint('tenant_id', 'key', 'version', name='uq_prompt_versions_key_version')
    )
    op.create_index(op.f('ix_prompt_versions_tenant_id'), 'prompt_versions', ['tenant_id'], unique=False)
    op.create_table('llm_logs',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('run_attempt', sa.Integer(), nullable=True),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=128), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('is_retry', sa.Boolean(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('prompt_key', sa.String(length=128), nullable=False),
    sa.Column('prompt_version', sa.Integer(), nullable=False),
    sa.Column('prompt_source', sa.String(length=16), nullable=False),
    sa.Column('request', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cached_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('price_version', sa.String(length=32), nullable=False),
    sa.Column('latency_ms', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("purpose IN ('generate', 'repair')", name=op.f('ck_llm_logs_purpose')),
    sa.CheckConstraint("status IN ('ok', 'invalid_output', 'error')", name=op.f('ck_llm_logs_status')),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_llm_logs_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_llm_logs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_logs'))
    )
    op.create_index('ix_llm_logs_agent_page', 'llm_logs', ['tenant_id', 'agent', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_llm_logs_page', 'llm_logs', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_llm_logs_provider_page', 'llm_logs', ['tenant_id', 'provider', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_llm_logs_run', 'llm_logs', ['run_id', 'id'], unique=False, postgresql_where=sa.text('run_id IS NOT NULL'))
    op.create_index('ix_llm_logs_status_page', 'llm_logs', ['tenant_id', 'status', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    # GET /api/v1/metrics/agents reads runs by creation time with their agent, status and timings: covering
    # them lets PostgreSQL answer from the index alone instead of visiting every run's heap row.
    op.create_index('ix_agent_runs_metrics', 'agent_runs', ['tenant_id', 'created_at'], unique=False,
                    postgresql_include=['agent', 'status', 'started_at', 'finished_at'])

    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.drop_index('ix_agent_runs_metrics', table_name='agent_runs')
    op.drop_index('ix_llm_logs_status_page', table_name='llm_logs')
    op.drop_index('ix_llm_logs_run', table_name='llm_logs', postgresql_where=sa.text('run_id IS NOT NULL'))
    op.drop_index('ix_llm_logs_provider_page', table_name='llm_logs')
    op.drop_index('ix_llm_logs_page', table_name='llm_logs')
    op.drop_index('ix_llm_logs_agent_page', table_name='llm_logs')
    op.drop_table('llm_logs')
    op.drop_index(op.f('ix_prompt_versions_tenant_id'), table_name='prompt_versions')
    op.drop_table('prompt_versions')
    op.drop_table('prompt_activations')
    op.drop_table('llm_usage_daily')
