"""SLA: the plan and targets recorded at receipt, the last reminder stage queued per clock,
and the next instant the SLA job must look at a ticket (indexed: the job finds what is due
without scanning open tickets)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sla_terms', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('sla_sent', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('sla_next_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_tickets_sla_next', ['sla_next_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_sla_next')
        batch_op.drop_column('sla_next_at')
        batch_op.drop_column('sla_sent')
        batch_op.drop_column('sla_terms')
        batch_op.drop_column('plan')
