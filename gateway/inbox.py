"""The inbox: every source hands raw bytes here, and they are durable before anyone says "done".

De-duplication happens at the door (Message-ID plus content hash), so a re-delivered
message is counted on its first inbox row and never processed twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parsers.identity import identify
from storage import blobs
from storage.db import insert_unless_present
from storage.models import InboxEntry, InboxState


@dataclass(frozen=True, slots=True)
class Delivery:
    """Raw bytes as a source received them."""

    raw: bytes
    source: str  # "smtp", "imap:NAME", "ingest:PATH"
    channel: str | None  # "email" | "fax" | None: decided later
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Accepted:
    inbox_id: int
    message_id: str
    duplicate: bool


def accept(session: Session, delivery: Delivery) -> Accepted:
    """Store a delivery, or count it on the row of the identical message already stored."""
    ident = identify(delivery.raw)
    existing = _find(session, ident.message_id, ident.content_hash)
    if existing is None:
        row = {
            "raw_sha256": blobs.put(session, delivery.raw),
            "size": len(delivery.raw),
            "message_id": ident.message_id,
            "content_hash": ident.content_hash,
            "source": delivery.source[:200],
            "channel": delivery.channel,
            "received_at": delivery.received_at,
            "state": InboxState.NEW,
            "duplicates": 0,
        }
        if (new_id := insert_unless_present(session, InboxEntry, row)) is not None:
            return Accepted(new_id, ident.message_id, duplicate=False)
        existing = _find(session, ident.message_id, ident.content_hash)  # a concurrent instance won
        assert existing is not None
    session.execute(
        update(InboxEntry).where(InboxEntry.id == existing).values(duplicates=InboxEntry.duplicates + 1)
    )
    return Accepted(existing, ident.message_id, duplicate=True)


def _find(session: Session, message_id: str, content_hash: str) -> int | None:
    return session.scalar(
        select(InboxEntry.id).where(
            InboxEntry.message_id == message_id, InboxEntry.content_hash == content_hash
        )
    )


def claim(session: Session, ids: list[int]) -> list[InboxEntry]:
    """Lock the given new rows for processing; rows another worker holds are skipped."""
    stmt = (
        select(InboxEntry)
        .where(InboxEntry.id.in_(ids), InboxEntry.state == InboxState.NEW)
        .order_by(InboxEntry.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def claim_new(session: Session, limit: int) -> list[InboxEntry]:
    """The oldest unprocessed rows, for the daemon's worker."""
    stmt = (
        select(InboxEntry)
        .where(InboxEntry.state == InboxState.NEW)
        .order_by(InboxEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))
