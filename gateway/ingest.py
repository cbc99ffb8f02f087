"""Feeding raw messages through the one path: inbox (committed) -> pipeline -> outcome.

Used by `hotline ingest` and by the daemon's worker alike; the only difference is where
the bytes come from.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

import structlog
from sqlalchemy import Row, select, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway import inbox
from gateway.parsing import Parsed, Parser, Stopped
from gateway.pipeline import Outcome, process
from gateway.reading import Reading, Rejected
from gateway.settings import LimitsSection, Settings
from parsers.identity import Identity, identify
from storage import blobs
from storage.db import transaction
from storage.models import InboxEntry, InboxState, Ticket

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
    """Outcomes in input order. Worker processes parse batch k+1 while batch k is routed;
    each batch's raw bytes are committed to the inbox before it is routed."""
    pending: Batch | None = None
    chunks = batched(items, BATCH, settings.limits.max_batch_bytes, lambda i: len(i.raw))
    parsing = _next_parse(parser, chunks)
    while parsing is not None:
        chunk, results = parsing
        parsing = _next_parse(parser, chunks)
        if pending is not None:
            yield from _finish(factory, settings, pending)
        pending = _accept(factory, chunk, list(results), source, received_at)
    if pending is not None:
        yield from _finish(factory, settings, pending)


def _next_parse(
    parser: Parser, chunks: Iterator[list[inbox.Incoming]]
) -> tuple[list[inbox.Incoming], Iterator[Parsed]] | None:
    chunk = next(chunks, None)
    return None if chunk is None else (chunk, parser.map([i.raw for i in chunk], [i.channel for i in chunk]))


def _accept(
    factory: sessionmaker[Session],
    chunk: list[inbox.Incoming],
    results: list[Parsed],
    source: str,
    received_at: datetime | None,
) -> Batch:
    now = datetime.now(timezone.utc)
    deliveries = [inbox.Delivery(i.raw, source, i.channel, received_at or now) for i in chunk]
    idents = [_identity(i.raw, result) for i, result in zip(chunk, results)]
    with transaction(factory) as session:
        accepted = inbox.accept_many(session, deliveries, idents)
    fresh = [(a.inbox_id, r) for a, r in zip(accepted, results) if not a.duplicate]
    return Batch(accepted, [i for i, _ in fresh], iter([r for _, r in fresh]))


def _identity(raw: bytes, result: Parsed) -> Identity:
    if isinstance(result, Reading):
        msg = result.message
        return Identity(msg.message_id, msg.content_hash, msg.message_id_synthesized)
    return identify(raw)


def process_backlog(
    factory: sessionmaker[Session], settings: Settings, parser: Parser, limit: int = BATCH
) -> list[tuple[str, Outcome]]:
    """The daemon's worker: route the oldest unprocessed inbox rows, whoever stored them;
    returns (source, outcome) pairs. Each reading is counted on its rows first (committed),
    so that a message that kills the process while it is read or routed is not taken up
    forever: see `_next_batch` and `_poisoned`. A stop or a store failure gives it back."""
    rows = _next_batch(factory, settings.limits, limit)
    most = settings.limits.max_attempts
    poisoned = {row.id: Rejected(_poisoned(row.attempts, most)) for row in rows if row.attempts >= most}
    readable = [row for row in rows if row.id not in poisoned]
    _count_attempts(factory, [row.id for row in readable], 1)
    try:
        with factory() as session:
            raws = blobs.get_many(session, [row.raw_sha256 for row in readable])
        results = parser.map([raws[row.raw_sha256] for row in readable], [row.channel for row in readable])
        parsed: dict[int, Parsed] = {**poisoned, **dict(zip([row.id for row in readable], results, strict=True))}
        outcomes = route(factory, settings, parsed)
    except (Stopped, OperationalError, InterfaceError):  # a stop or the store: not the message's fault
        _count_attempts(factory, [row.id for row in readable], -1)
        raise
    return [(row.source, outcomes[row.id]) for row in rows if row.id in outcomes]


def _next_batch(
    factory: sessionmaker[Session], limits: LimitsSection, limit: int
) -> list[Row[int, str, str, str | None, int, int]]:  # id, raw_sha256, source, channel, size, attempts
    """The oldest new rows, up to `limit` and limits.max_batch_bytes (at least one). A row
    read before and still new was being read when its process died (with the rest of its
    batch): such rows are read one at a time, so that only the guilty one reaches
    limits.max_attempts."""
    with factory() as session:
        rows = session.execute(
            select(InboxEntry.id, InboxEntry.raw_sha256, InboxEntry.source, InboxEntry.channel,
                   InboxEntry.size, InboxEntry.attempts)
            .where(InboxEntry.state == InboxState.NEW)
            .order_by(InboxEntry.id)
            .limit(limit)
        ).all()  # fmt: skip
    if suspect := next((row for row in rows if row.attempts), None):
        return [suspect]
    return next(batched(rows, limit, limits.max_batch_bytes, lambda row: row.size), [])


def _count_attempts(factory: sessionmaker[Session], ids: list[int], step: int) -> None:
    """Committed before the reading begins: the next daemon sees it even after a SIGKILL."""
    if ids:
        with transaction(factory) as session:
            session.execute(update(InboxEntry).where(InboxEntry.id.in_(ids)).values(attempts=InboxEntry.attempts + step))


def _poisoned(attempts: int, most: int) -> str:
    return (f"reading it was begun {attempts} times and never finished: the process reading it died "
            f"(out of memory, a crash); over limits.max_attempts={most}, the raw message is kept")  # fmt: skip


def route(factory: sessionmaker[Session], settings: Settings, parsed: dict[int, Parsed]) -> dict[int, Outcome]:
    """Route in one transaction; if storing fails, retry one message at a time so that only
    the message that causes it is quarantined. An unreachable store raises."""
    if not parsed:
        return {}
    try:
        with transaction(factory) as session:
            entries = inbox.claim(session, list(parsed))  # rows another worker took are skipped
            results = process(session, settings, entries, [parsed[e.id] for e in entries])
            return {e.id: r for e, r in zip(entries, results)}
    except (OperationalError, InterfaceError):
        raise
    except SQLAlchemyError as exc:
        if len(parsed) > 1:
            log.warning("storing a batch failed, retrying one by one", error=str(exc).splitlines()[0])
            return {k: v for i, p in parsed.items() for k, v in route(factory, settings, {i: p}).items()}
        ((inbox_id, _),) = parsed.items()
        return route(factory, settings, {inbox_id: Rejected(f"storage error: {str(exc).splitlines()[0]}")})


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
