"""webhook_endpoints.disabled_by: who disabled an endpoint, an admin or the system (failing for a day)

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa

from app.core.rls import across_tenants

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('webhook_endpoints', sa.Column('disabled_by', sa.String(length=16), nullable=True))
    with across_tenants("webhook_endpoints"):
        op.execute("""
            UPDATE webhook_endpoints
            SET disabled_by = CASE WHEN disabled_reason = 'disabled by an admin' THEN 'admin' ELSE 'system' END
            WHERE NOT enabled
        """)


def downgrade() -> None:
    op.drop_column('webhook_endpoints', 'disabled_by')
