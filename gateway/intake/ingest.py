"""`hotline ingest`: raw messages through the one path, inbox (committed) -> pipeline -> outcome.

Store first, as the SMTP listener does: each batch's raw bytes are committed before
anything reads them, so a document slower than the MTA's pipe timeout, or one that gets
the process killed, is already stored (the daemon's sweep routes it later, and a retry
is a duplicate). Worker processes read batch k+1 while batch k is routed. The daemon
routes with gateway/intake/sweep.py; both route through `route` below.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import inbox
from gateway.intake.workers import Parsed, Parser
from gateway.pipeline.work import Outcome, stored_action
from gateway.pipeline.runner import process
from gateway.register import mirror
from parsers.reading import Rejected
from gateway.settings import Settings
from storage.db import transaction
from storage.models import InboxEntry, Ticket

log = structlog.get_logger("hotline.ingest")
BATCH = 256
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Batch:
    accepted: list[inbox.Accepted]
    fresh: list[int]  # inbox ids stored by this batch, to be routed
    parsed: Iterator[Parsed]  # results for `fresh`, in order, possibly still being computed


def batched(items: Iterable[T], size: int, max_bytes: int, nbytes: Callable[[T], int]) -> Iterator[list[T]]:
    """Chunks of at most `size` items and `max_bytes` (by `nbytes`), at least one item each:
    a batch's raw messages and their parses are in memory at once."""
    chunk: list[T] = []
    total = 0
    for item in items:
        weight = nbytes(item)
        if chunk and (len(chunk) == size or total + weight > max_bytes):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += weight
    if chunk:
        yield chunk


def ingest(
    factory: sessionmaker[Session],
    settings: Settings,
    parser: Parser,
    items: Iterable[inbox.Incoming],
    source: str,
    received_at: datetime | None = None,
) -> Iterator[Outcome]:
    """Outcomes in input order."""
    pending: Batch | None = None
    for chunk in batched(items, BATCH, settings.limits.max_batch_bytes, lambda item: len(item.raw)):
        batch = _store(factory, chunk, source, received_at, parser)
        if pending is not None:
            yield from _finish(factory, settings, pending)
        pending = batch
    if pending is not None:
        yield from _finish(factory, settings, pending)


def _store(
    factory: sessionmaker[Session],
    chunk: list[inbox.Incoming],
    source: str,
    received_at: datetime | None,
    parser: Parser,
) -> Batch:
    """Commit the chunk's raw bytes, then hand the new ones to the workers."""
    now = datetime.now(timezone.utc)
    deliveries = [inbox.Delivery(i.raw, source, i.channel, received_at or now) for i in chunk]
    with transaction(factory) as session:
        accepted = inbox.accept_many(session, deliveries)
    fresh = [(a.inbox_id, i) for a, i in zip(accepted, chunk) if not a.duplicate]
    parsed = parser.map([i.raw for _, i in fresh], [i.channel for _, i in fresh])
    return Batch(accepted, [inbox_id for inbox_id, _ in fresh], parsed)


def route(factory: sessionmaker[Session], settings: Settings, parsed: dict[int, Parsed]) -> dict[int, Outcome]:
    """Route in one transaction; if storing fails, retry one message at a time so that only
    the message that causes it is quarantined. An unreachable store raises."""
    if not parsed:
        return {}
    try:
        with transaction(factory) as session:
            entries = inbox.claim(session, list(parsed))  # rows another worker took are skipped
            results = process(session, settings, entries, [parsed[e.id] for e in entries])
            outcomes = {e.id: r for e, r in zip(entries, results)}  # read before the commit expires the rows
    except (OperationalError, InterfaceError):
        raise
    except SQLAlchemyError as exc:
        if len(parsed) > 1:
            log.warning("storing a batch failed, retrying one by one", error=str(exc).splitlines()[0])
            return {k: v for i, p in parsed.items() for k, v in route(factory, settings, {i: p}).items()}
        ((inbox_id, _),) = parsed.items()
        return route(factory, settings, {inbox_id: Rejected(f"storage error: {str(exc).splitlines()[0]}")})
    mirror.after_commit(factory, settings.register_.log)
    return outcomes


def _finish(factory: sessionmaker[Session], settings: Settings, batch: Batch) -> Iterator[Outcome]:
    outcomes = route(factory, settings, dict(zip(batch.fresh, batch.parsed, strict=True)))
    pending = [a.inbox_id for a in batch.accepted if a.duplicate or a.inbox_id not in outcomes]
    earlier = _recorded(factory, pending)
    for a in batch.accepted:
        if a.duplicate:
            ticket = earlier.get(a.inbox_id, (None, None))[0]
            yield Outcome(a.message_id, "duplicate", ticket, f"same Message-ID and content as inbox #{a.inbox_id}")
        elif a.inbox_id in outcomes:
            yield outcomes[a.inbox_id]
        else:  # processed meanwhile by another instance
            ticket, action = earlier.get(a.inbox_id, (None, None))
            yield Outcome(a.message_id, stored_action(action, "duplicate"), ticket, "processed by another worker")


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
