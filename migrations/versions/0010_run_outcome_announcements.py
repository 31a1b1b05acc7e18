"""tenants.announce_run_outcomes: whether a run's end is announced (a webhook wants run events)

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa

from app.core.rls import across_tenants

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tenants', sa.Column('announce_run_outcomes', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    # Endpoints created before this revision that want run events, in every tenant.
    with across_tenants("tenants", "webhook_endpoints"):
        op.execute("""
            UPDATE tenants t SET announce_run_outcomes = true
            WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = t.id AND e.enabled
                          AND e.events ?| array['run.succeeded', 'run.failed', 'run.dead_lettered'])
        """)


def downgrade() -> None:
    op.drop_column('tenants', 'announce_run_outcomes')
