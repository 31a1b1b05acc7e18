"""coaching: check-ins, plans and their versions, plan changes, coaching cards; all under RLS

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TENANT_TABLES = ("check_ins", "coaching_cards", "plans", "plan_changes", "plan_versions")

# The weekly coaching review's scan (app.coaching.schedule) reads across tenants through this function (ids
# only); each client is then re-read and its review started under its own tenant's binding. A client is a
# candidate when it is active, has a plan, its tenant's review weekday and hour (settings.coaching, read as
# app.coaching.settings.schedule_of reads them) have passed this week on the client's local clock, and no
# run holds the key of the week it would review (the week before). Local wall times: the hour the clocks
# skip passes when they jump, a repeated hour at its first occurrence (the schedule decides with zoneinfo;
# this only narrows the candidates). A zone PostgreSQL does not know is read as UTC. The order varies with
# p_now, so clients that cannot be started (a spent model budget) do not hold the others back forever.
CLIENTS_DUE_FOR_REVIEW = """
CREATE FUNCTION maintenance_clients_due_for_review(p_now timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, client_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
    schedules AS (
        SELECT t.id AS tenant_id,
               CASE t.settings->'coaching'->>'review_weekday'
                    WHEN 'mon' THEN 0 WHEN 'tue' THEN 1 WHEN 'wed' THEN 2 WHEN 'thu' THEN 3
                    WHEN 'fri' THEN 4 WHEN 'sat' THEN 5 WHEN 'sun' THEN 6 ELSE 0 END AS weekday,
               CASE WHEN t.settings->'coaching'->>'review_hour' ~ '^([01]?[0-9]|2[0-3])$'
                    THEN (t.settings->'coaching'->>'review_hour')::integer ELSE 7 END AS hour
        FROM tenants t
    ),
    clocks AS (
        SELECT c.tenant_id, c.id AS client_id, s.weekday, s.hour,
               p_now AT TIME ZONE coalesce(z.name, 'UTC') AS local_now
        FROM clients c
        JOIN schedules s ON s.tenant_id = c.tenant_id
        LEFT JOIN zones z ON z.name = c.timezone
        WHERE c.status = 'active' AND EXISTS (SELECT 1 FROM plans p WHERE p.client_id = c.id)
    )
    SELECT k.tenant_id, k.client_id FROM clocks k
    WHERE k.local_now >= date_trunc('week', k.local_now) + make_interval(days => k.weekday, hours => k.hour)
      AND NOT EXISTS (
          SELECT 1 FROM agent_runs r
          WHERE r.tenant_id = k.tenant_id
            AND r.idempotency_key = 'coaching:' || k.client_id || ':'
                || to_char(date_trunc('week', k.local_now) - interval '7 days', 'IYYY-"W"IW'))
    ORDER BY md5(k.client_id::text || p_now::text)
    LIMIT p_limit
$$;
"""


def upgrade() -> None:
    op.create_table('check_ins',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('weight_kg', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('sleep_hours', sa.Numeric(precision=4, scale=2), nullable=True),
    sa.Column('sleep_quality', sa.Integer(), nullable=True),
    sa.Column('stress', sa.Integer(), nullable=True),
    sa.Column('mood', sa.Integer(), nullable=True),
    sa.Column('soreness', sa.Integer(), nullable=True),
    sa.Column('energy', sa.Integer(), nullable=True),
    sa.Column('training_adherence_pct', sa.Integer(), nullable=True),
    sa.Column('nutrition_adherence_pct', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('energy BETWEEN 1 AND 5', name=op.f('ck_check_ins_energy_1_to_5')),
    sa.CheckConstraint('mood BETWEEN 1 AND 5', name=op.f('ck_check_ins_mood_1_to_5')),
    sa.CheckConstraint('nutrition_adherence_pct BETWEEN 0 AND 100', name=op.f('ck_check_ins_nutrition_adherence_range')),
    sa.CheckConstraint('sleep_hours >= 0 AND sleep_hours <= 24', name=op.f('ck_check_ins_sleep_hours_range')),
    sa.CheckConstraint('sleep_quality BETWEEN 1 AND 5', name=op.f('ck_check_ins_sleep_quality_1_to_5')),
    sa.CheckConstraint('soreness BETWEEN 1 AND 5', name=op.f('ck_check_ins_soreness_1_to_5')),
    sa.CheckConstraint('stress BETWEEN 1 AND 5', name=op.f('ck_check_ins_stress_1_to_5')),
    sa.CheckConstraint('training_adherence_pct BETWEEN 0 AND 100', name=op.f('ck_check_ins_training_adherence_range')),
    sa.CheckConstraint('weight_kg > 0 AND weight_kg < 500', name=op.f('ck_check_ins_weight_kg_range')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_check_ins_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_check_ins_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_ins')),
    sa.UniqueConstraint('client_id', 'day', name='uq_check_ins_client_day')
    )
    op.create_index('ix_check_ins_client_day', 'check_ins', ['client_id', sa.literal_column('day DESC')], unique=False)
    op.create_index(op.f('ix_check_ins_tenant_id'), 'check_ins', ['tenant_id'], unique=False)
    op.create_table('coaching_cards',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('seen', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_coaching_cards_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_coaching_cards_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_coaching_cards_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coaching_cards'))
    )
    op.create_index('ix_coaching_cards_page', 'coaching_cards', ['tenant_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_coaching_cards_tenant_id'), 'coaching_cards', ['tenant_id'], unique=False)
    op.create_table('plans',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_plans_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_plans_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('tenant_id', 'client_id', name=op.f('uq_plans_tenant_id'))
    )
    op.create_index(op.f('ix_plans_tenant_id'), 'plans', ['tenant_id'], unique=False)
    op.create_table('plan_changes',
    sa.Column('plan_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('proposed', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_version', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_plan_changes_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_changes_plan_id_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['agent_runs.id'], name=op.f('fk_plan_changes_run_id_agent_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_plan_changes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_changes'))
    )
    op.create_index(op.f('ix_plan_changes_tenant_id'), 'plan_changes', ['tenant_id'], unique=False)
    op.create_table('plan_versions',
    sa.Column('plan_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('change_id', sa.Uuid(), nullable=True),
    sa.Column('created_by_type', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_versions_plan_id_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_plan_versions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sa.UniqueConstraint('plan_id', 'version', name='uq_plan_versions_version')
    )
    op.create_index(op.f('ix_plan_versions_tenant_id'), 'plan_versions', ['tenant_id'], unique=False)
    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    op.execute(CLIENTS_DUE_FOR_REVIEW)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS maintenance_clients_due_for_review(timestamptz, integer)")
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.drop_index(op.f('ix_plan_versions_tenant_id'), table_name='plan_versions')
    op.drop_table('plan_versions')
    op.drop_index(op.f('ix_plan_changes_tenant_id'), table_name='plan_changes')
    op.drop_table('plan_changes')
    op.drop_index(op.f('ix_plans_tenant_id'), table_name='plans')
    op.drop_table('plans')
    op.drop_index(op.f('ix_coaching_cards_tenant_id'), table_name='coaching_cards')
    op.drop_index('ix_coaching_cards_page', table_name='coaching_cards')
    op.drop_table('coaching_cards')
    op.drop_index(op.f('ix_check_ins_tenant_id'), table_name='check_ins')
    op.drop_index('ix_check_ins_client_day', table_name='check_ins')
    op.drop_table('check_ins')
