"""outbox draft: what a message says, stored by routing; the worker renders it once

Composing the MIME (templates, headers, a fax's PDF) was most of the routing
transaction's time. Routing now stores a draft (JSON); the outbox worker renders it at
the first claim and stores the bytes in `payload` (so a re-send is the same message).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        batch_op.alter_column('payload', existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('draft')
