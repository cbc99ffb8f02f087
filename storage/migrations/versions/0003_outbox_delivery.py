"""outbox delivery: kind, envelope sender, Message-ID, claim lease

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='ack'))
        batch_op.add_column(sa.Column('sender', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('message_id', sa.String(length=998), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_outbox_recent', ['to_addr', 'kind', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_recent')
        batch_op.drop_index(batch_op.f('ix_outbox_message_id'))
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('message_id')
        batch_op.drop_column('sender')
        batch_op.drop_column('kind')
