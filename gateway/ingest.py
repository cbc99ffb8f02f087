"""Feeding raw messages through the one path: inbox (committed) -> pipeline -> outcome.

Used by `hotline ingest` and by the daemon's worker alike; the only difference is where
the bytes come from.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway import inbox
from gateway.pipeline import Outcome, Parser, process
from gateway.settings import Settings
from storage import blobs
from storage.db import transaction
from storage.models import InboxEntry, Ticket

BATCH = 256


def batched(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def ingest(
    factory: sessionmaker[Session],
    settings: Settings,
    parser: Parser,
    raws: Iterable[bytes],
    source: str,
    channel: str | None = None,
    received_at: datetime | None = None,
) -> Iterator[Outcome]:
    """Outcomes in input order; each batch's raw bytes are committed before it is processed."""
    for batch in batched(raws, BATCH):
        with transaction(factory) as session:
            accepted = [
                inbox.accept(
                    session, inbox.Delivery(raw, source, channel, received_at or datetime.now(timezone.utc))
                )
                for raw in batch
            ]
        fresh = {a.inbox_id: raw for a, raw in zip(accepted, batch) if not a.duplicate}
        outcomes = route_entries(factory, settings, parser, list(fresh), fresh.__getitem__)
        yield from _in_order(factory, accepted, outcomes)


def process_backlog(
    factory: sessionmaker[Session], settings: Settings, parser: Parser, limit: int = BATCH
) -> list[Outcome]:
    """The daemon's worker: route the oldest unprocessed inbox rows, whoever stored them."""
    with factory() as session:
        stmt = select(InboxEntry.id).where(InboxEntry.state == "new").order_by(InboxEntry.id).limit(limit)
        ids = list(session.scalars(stmt))
    if not ids:
        return []

    def raw_of(inbox_id: int) -> bytes:
        with factory() as session:
            entry = session.get_one(InboxEntry, inbox_id)
            return blobs.get(session, entry.raw_sha256)

    return list(route_entries(factory, settings, parser, ids, raw_of).values())


def route_entries(
    factory: sessionmaker[Session],
    settings: Settings,
    parser: Parser,
    ids: list[int],
    raw_of: Callable[[int], bytes],
) -> dict[int, Outcome]:
    """Parse outside the transaction (no lock held while CPU-bound), then route in one."""
    if not ids:
        return {}
    parsed = dict(zip(ids, parser.map([raw_of(i) for i in ids]), strict=True))
    with transaction(factory) as session:
        entries = inbox.claim(session, ids)  # rows another worker took are skipped
        results = process(session, settings, entries, [parsed[e.id] for e in entries])
        return {e.id: r for e, r in zip(entries, results)}


def _in_order(
    factory: sessionmaker[Session], accepted: list[inbox.Accepted], outcomes: dict[int, Outcome]
) -> Iterator[Outcome]:
    pending = [a.inbox_id for a in accepted if a.inbox_id not in outcomes or a.duplicate]
    earlier = _recorded(factory, pending)
    for a in accepted:
        if a.duplicate:
            ticket = earlier.get(a.inbox_id, (None, None))[0]
            yield Outcome(a.message_id, "duplicate", ticket, f"same Message-ID and content as inbox #{a.inbox_id}")
        elif a.inbox_id in outcomes:
            yield outcomes[a.inbox_id]
        else:  # processed meanwhile by another instance
            ticket, action = earlier.get(a.inbox_id, (None, None))
            yield Outcome(a.message_id, action or "duplicate", ticket, "processed by another worker")


def _recorded(factory: sessionmaker[Session], ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    if not ids:
        return {}
    with factory() as session:
        rows = session.execute(
            select(InboxEntry.id, Ticket.number, InboxEntry.action)
            .outerjoin(Ticket, Ticket.id == InboxEntry.ticket_id)
            .where(InboxEntry.id.in_(ids))
        )
        return {row[0]: (row[1], row[2]) for row in rows}
