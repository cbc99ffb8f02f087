"""The reply log: one row per entry an auditor must trust (the leaves of a Merkle tree),
and its head row (size and frontier), created here so writers only ever lock it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reply_log',
        sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('entry', sa.JSON(), nullable=False),
        sa.Column('leaf_hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id']),
        sa.PrimaryKeyConstraint('index'),
    )
    op.create_index('ix_reply_log_ticket_id', 'reply_log', ['ticket_id'], unique=False)
    head = op.create_table(
        'reply_log_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('frontier', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(head, [{'id': 1, 'size': 0, 'frontier': []}])


def downgrade() -> None:
    op.drop_table('reply_log_head')
    op.drop_index('ix_reply_log_ticket_id', table_name='reply_log')
    op.drop_table('reply_log')
