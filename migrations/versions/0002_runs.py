"""runs: agent_runs, run_steps, run_events, idempotency_keys; RLS; the reaper's cross-tenant scan

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TENANT_TABLES = ("agent_runs", "run_steps", "run_events", "idempotency_keys")

# The reaper and the metrics endpoint serve every tenant, but the runtime role sees one tenant at a time. This function is its
# only cross-tenant read: ids (and why) of runs that need attention, nothing else. The reaper then binds
# each run's tenant and repairs it under RLS like any other write.
RUNS_NEEDING_ATTENTION = """
CREATE FUNCTION maintenance_runs_needing_attention(p_stale_seconds integer, p_limit integer)
RETURNS TABLE (tenant_id uuid, run_id uuid, reason text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    (SELECT r.tenant_id, r.id, 'lease_expired' FROM agent_runs r
     WHERE r.status = 'running' AND r.lease_expires_at < now()
     ORDER BY r.lease_expires_at LIMIT p_limit)
    UNION ALL
    (SELECT r.tenant_id, r.id, 'stalled' FROM agent_runs r
     WHERE r.status IN ('queued', 'retry_scheduled')
       AND r.updated_at < now() - make_interval(secs => p_stale_seconds)
       AND coalesce(r.next_attempt_at, r.updated_at) < now() - make_interval(secs => p_stale_seconds)
     ORDER BY r.updated_at LIMIT p_limit)
$$;
CREATE FUNCTION metrics_active_runs()
RETURNS TABLE (agent text, status text, runs bigint, oldest_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT r.agent, r.status, count(*), extract(epoch FROM now() - min(r.updated_at))
    FROM agent_runs r WHERE r.status IN ('queued', 'retry_scheduled', 'running', 'awaiting_review')
    GROUP BY r.agent, r.status
$$;
CREATE FUNCTION maintenance_purge_idempotency_keys(p_older_than_hours integer)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH purged AS (
        DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => p_older_than_hours)
        RETURNING 1
    ) SELECT count(*)::integer FROM purged
$$;
"""


def upgrade() -> None:
    op.create_table('agent_runs',
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('input', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('output', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('requested_by_type', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('pipeline_id', sa.Uuid(), nullable=True),
    sa.Column('parent_run_id', sa.Uuid(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('overridden', sa.Boolean(), nullable=False),
    sa.Column('override_reason', sa.String(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['parent_run_id'], ['agent_runs.id'], name=op.f('fk_agent_runs_parent_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_agent_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_runs')),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name='uq_agent_runs_idempotency')
    )
    op.create_index('ix_agent_runs_agent_page', 'agent_runs', ['tenant_id', 'agent', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_agent_runs_lease', 'agent_runs', ['lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'running'"))
    op.create_index('ix_agent_runs_page', 'agent_runs', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_agent_runs_pipeline', 'agent_runs', ['tenant_id', 'pipeline_id'], unique=False, postgresql_where=sa.text('pipeline_id IS NOT NULL'))
    op.create_index('ix_agent_runs_status_page', 'agent_runs', ['tenant_id', 'status', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_agent_runs_tenant_id'), 'agent_runs', ['tenant_id'], unique=False)
    op.create_index('ix_agent_runs_waiting', 'agent_runs', ['status', 'updated_at'], unique=False, postgresql_where=sa.text("status IN ('queued', 'retry_scheduled')"))
    op.create_table('idempotency_keys',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_idempotency_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', 'scope', 'tenant_id', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('run_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_run_events_run_id_agent_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_run_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_events'))
    )
    op.create_index('ix_run_events_run', 'run_events', ['run_id', 'id'], unique=False)
    op.create_index(op.f('ix_run_events_tenant_id'), 'run_events', ['tenant_id'], unique=False)
    op.create_table('run_steps',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_run_steps_run_id_agent_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_run_steps_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_steps')),
    sa.UniqueConstraint('run_id', 'name', name=op.f('uq_run_steps_run_id'))
    )
    op.create_index(op.f('ix_run_steps_tenant_id'), 'run_steps', ['tenant_id'], unique=False)

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    op.execute(RUNS_NEEDING_ATTENTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS metrics_active_runs()")
    op.execute("DROP FUNCTION IF EXISTS maintenance_purge_idempotency_keys(integer)")
    op.execute("DROP FUNCTION IF EXISTS maintenance_runs_needing_attention(integer, integer)")
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.drop_index(op.f('ix_run_steps_tenant_id'), table_name='run_steps')
    op.drop_table('run_steps')
    op.drop_index(op.f('ix_run_events_tenant_id'), table_name='run_events')
    op.drop_index('ix_run_events_run', table_name='run_events')
    op.drop_table('run_events')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_agent_runs_waiting', table_name='agent_runs', postgresql_where=sa.text("status IN ('queued', 'retry_scheduled')"))
    op.drop_index(op.f('ix_agent_runs_tenant_id'), table_name='agent_runs')
    op.drop_index('ix_agent_runs_status_page', table_name='agent_runs')
    op.drop_index('ix_agent_runs_pipeline', table_name='agent_runs', postgresql_where=sa.text('pipeline_id IS NOT NULL'))
    op.drop_index('ix_agent_runs_page', table_name='agent_runs')
    op.drop_index('ix_agent_runs_lease', table_name='agent_runs', postgresql_where=sa.text("status = 'running'"))
    op.drop_index('ix_agent_runs_agent_page', table_name='agent_runs')
    op.drop_table('agent_runs')
