"""inbox attempts: how often routing took up a row, counted before it reads the message

A message that kills the daemon while it is read (the OOM killer, a native decoder's
crash) stays new; without a count, each restart reads it again and dies again. The count
is committed before each reading, so the next daemon sees it and quarantines the row after
`limits.max_attempts`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_column('attempts')
