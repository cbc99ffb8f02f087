"""mailbox leases and daemons' heartbeats: one poller per IMAP account when several
daemons share a database, the accounts spread over the daemons alive

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mailbox_leases',
        sa.Column('account', sa.String(length=200), nullable=False),
        sa.Column('owner', sa.String(length=200), nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.Column('acquired_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('account'),
    )
    op.create_table(
        'daemons',
        sa.Column('instance', sa.String(length=200), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('instance'),
    )


def downgrade() -> None:
    op.drop_table('daemons')
    op.drop_table('mailbox_leases')
