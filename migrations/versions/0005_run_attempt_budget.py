"""runs: agent_runs.attempt_base, so the attempt counter only ever grows (it fences executions) while an
operator's retry still grants a fresh budget of attempts

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('agent_runs', sa.Column('attempt_base', sa.Integer(), server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    op.drop_column('agent_runs', 'attempt_base')
