"""The inbox: every source hands raw bytes here, and they are durable before anyone says "done".

De-duplication happens at the door (Message-ID plus content hash), so a re-delivered
message is counted on its first inbox row and never processed twice.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from parsers.identity import Identity, identify
from storage import blobs
from storage.db import insert_ignoring_conflicts, rows_in_chunks
from storage.models import InboxEntry, InboxState, table


@dataclass(frozen=True, slots=True)
class Incoming:
    """Raw bytes a source hands over, with the channel it already knows (None: decided later)."""

    raw: bytes
    channel: str | None = None


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
    return accept_many(session, [delivery])[0]


def accept_many(session: Session, deliveries: list[Delivery], idents: list[Identity] | None = None) -> list[Accepted]:
    """Store deliveries, each at most once: an identical message already stored (or earlier
    in the same batch) is counted on that row instead, unless that row was never processed
    (a run that died halfway): then it is handed back for routing. Identities already
    computed (by the parser's worker processes) save the work here."""
    idents = idents or [identify(d.raw) for d in deliveries]
    known = _find(session, {(i.message_id, i.content_hash) for i in idents})
    fresh: dict[tuple[str, str], tuple[Delivery, str]] = {}
    for delivery, ident in zip(deliveries, idents):
        key = (ident.message_id, ident.content_hash)
        if key not in known and key not in fresh:
            fresh[key] = (delivery, hashlib.sha256(delivery.raw).hexdigest())
    if fresh:
        blobs.put(session, {sha: d.raw for d, sha in fresh.values()})
        rows = [_row(d, sha, key) for key, (d, sha) in fresh.items()]
        insert_ignoring_conflicts(session, InboxEntry, rows)  # a concurrent instance may win a row
        stored = _find(session, set(fresh))
    seen: set[int] = set()
    result = []
    for ident in idents:
        key = (ident.message_id, ident.content_hash)
        inbox_id, unfinished = known[key] if key in known else stored[key]
        duplicate = inbox_id in seen or (key in known and not unfinished)
        seen.add(inbox_id)
        result.append(Accepted(inbox_id, ident.message_id, duplicate))
    if dups := Counter(a.inbox_id for a in result if a.duplicate):
        inbox = table(InboxEntry)  # one executemany, not a statement per duplicate
        stmt = update(inbox).where(inbox.c.id == bindparam("row")).values(duplicates=inbox.c.duplicates + bindparam("count"))
        session.execute(stmt, [{"row": i, "count": n} for i, n in dups.items()])
    return result


def _row(delivery: Delivery, sha: str, key: tuple[str, str]) -> dict[str, object]:
    return {
        "raw_sha256": sha,
        "size": len(delivery.raw),
        "message_id": key[0],
        "content_hash": key[1],
        "source": delivery.source[:200],
        "channel": delivery.channel,
        "received_at": delivery.received_at,
        "state": InboxState.NEW,
        "duplicates": 0,
    }


def _find(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, bool]]:
    """(inbox id, still unprocessed) of the stored rows with these identities."""
    columns = select(InboxEntry.message_id, InboxEntry.content_hash, InboxEntry.id, InboxEntry.state)
    rows = rows_in_chunks(session, {k[0] for k in keys}, lambda chunk: columns.where(InboxEntry.message_id.in_(chunk)))
    return {(m, h): (i, st == InboxState.NEW) for m, h, i, st in rows if (m, h) in keys}


def claim(session: Session, ids: list[int]) -> list[InboxEntry]:
    """Lock the given new rows for processing; rows another worker holds are skipped."""
    stmt = (
        select(InboxEntry)
        .where(InboxEntry.id.in_(ids), InboxEntry.state == InboxState.NEW)
        .order_by(InboxEntry.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))

