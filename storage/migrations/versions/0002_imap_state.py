"""imap state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 08:40:20.825233
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imap_state',
    sa.Column('account', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('last_sync_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('account')
    )


def downgrade() -> None:
    op.drop_table('imap_state')
