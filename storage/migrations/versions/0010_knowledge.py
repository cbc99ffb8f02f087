"""The knowledge base: documentation sections and answered tickets (kb_docs), and the
inverted index of their terms (kb_terms) that suggestions are ranked from (BM25)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'kb_docs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('ref', sa.String(length=300), nullable=False),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('location', sa.String(length=200), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('excerpt', sa.Text(), nullable=False),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('stamp', sa.String(length=60), nullable=True),
        sa.Column('message_pk', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=True),
        sa.Column('length', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['message_pk'], ['messages.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_pk'),
    )
    op.create_index('ix_kb_docs_source', 'kb_docs', ['source'], unique=False)
    op.create_table(
        'kb_terms',
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('term', sa.String(length=40), nullable=False),
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('tf', sa.Integer(), nullable=False),
        sa.Column('length', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['doc_id'], ['kb_docs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('kind', 'term', 'doc_id', postgresql_include=['tf', 'length']),
        sqlite_with_rowid=False,
    )
    op.create_index('ix_kb_terms_doc', 'kb_terms', ['doc_id'], unique=False)
    stats = op.create_table(
        'kb_stats',
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('docs', sa.Integer(), nullable=False),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('kind'),
    )
    op.bulk_insert(stats, [{'kind': kind, 'docs': 0, 'length': 0} for kind in ('section', 'answer')])


def downgrade() -> None:
    op.drop_table('kb_stats')
    op.drop_index('ix_kb_terms_doc', table_name='kb_terms')
    op.drop_table('kb_terms')
    op.drop_index('ix_kb_docs_source', table_name='kb_docs')
    op.drop_table('kb_docs')
