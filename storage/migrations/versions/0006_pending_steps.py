"""pending steps: acknowledgements and notifications owed after a failure, retried

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pending_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('inbox_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.String(length=20), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_try_at', sa.DateTime(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('done_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['inbox_id'], ['inbox.id']),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('inbox_id', 'step', name='uq_pending_step'),
    )
    with op.batch_alter_table('pending_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_steps_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_index('ix_pending_due', ['done_at', 'next_try_at'], unique=False)


def downgrade() -> None:
    op.drop_table('pending_steps')
