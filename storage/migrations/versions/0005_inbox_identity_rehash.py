"""inbox identity re-hashed: the content hash covers every header field but the trace fields

The hash used to cover only From/To/Subject/Date and the body (a header-less input hashed
to nothing, a different Content-Type was a "duplicate") and the trailing blank line an
mbox reader drops (one file gave two identities). Stored rows are re-hashed with today's
`parsers.identity.identify`, so that a message stored before the upgrade and delivered
again afterwards is still recognised. A synthesized Message-ID (derived from the hash)
is renamed with it. When two stored rows now have one identity, the older keeps it and the
younger keeps its old key: both stay, nothing is merged after the fact.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:00:00
"""
from alembic import op
import sqlalchemy as sa

from parsers.identity import SYNTHETIC_DOMAIN, identify

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

inbox = sa.table('inbox', sa.column('id', sa.Integer), sa.column('raw_sha256', sa.String),
                 sa.column('message_id', sa.String), sa.column('content_hash', sa.String))
blobs = sa.table('blobs', sa.column('sha256', sa.String), sa.column('data', sa.LargeBinary))
messages = sa.table('messages', sa.column('inbox_id', sa.Integer), sa.column('message_id', sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(inbox.c.id, inbox.c.raw_sha256, inbox.c.message_id, inbox.c.content_hash)
                        .order_by(inbox.c.id)).all()
    taken = {(row.message_id, row.content_hash) for row in rows}
    for row in rows:  # one blob at a time: raw messages may be large
        raw = bind.execute(sa.select(blobs.c.data).where(blobs.c.sha256 == row.raw_sha256)).scalar_one()
        ident = identify(bytes(raw))
        message_id = ident.message_id if row.message_id.endswith(f"@{SYNTHETIC_DOMAIN}") else row.message_id
        if (message_id, ident.content_hash) in taken:
            continue
        taken.add((message_id, ident.content_hash))
        bind.execute(inbox.update().where(inbox.c.id == row.id)
                     .values(message_id=message_id, content_hash=ident.content_hash))
        if message_id != row.message_id:
            bind.execute(messages.update().where(messages.c.inbox_id == row.id).values(message_id=message_id))


def downgrade() -> None:
    """The old hashes are not kept: a downgraded store de-duplicates by the new ones (it only
    stores more, never merges)."""
