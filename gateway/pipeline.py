"""inbox row -> parse -> classify -> thread -> route: one message, one savepoint, one outcome.

Like structlog's processor chain, each step is a small callable taking and returning a
frozen Work; the last one writes the rows. Parsing is CPU-bound and runs in worker
processes; everything that touches the database runs in order, in the caller's
transaction, so threading sees every earlier message of the batch.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.orm import Session

from gateway import tickets
from gateway.settings import Settings
from gateway.threads import linked_tickets, named_ticket
from parsers import autoreply
from parsers.mime import ParsedMessage, ParseLimits, UnparseableMessage, parse
from storage.models import InboxEntry, InboxState, MessageKind, Ticket

log = structlog.get_logger("hotline.pipeline")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message: the JSON line `hotline ingest` prints."""

    message_id: str
    action: str  # created appended answered duplicate autoreply bounce held quarantined
    ticket: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


@dataclass(frozen=True, slots=True)
class Work:
    entry: InboxEntry
    parsed: ParsedMessage
    verdict: autoreply.Verdict | None = None
    ticket: Ticket | None = None
    via: str | None = None  # how the ticket was found
    outcome: Outcome | None = None


@dataclass(frozen=True, slots=True)
class Context:
    session: Session
    settings: Settings


Step = Callable[[Context, Work], Work]


def classify(ctx: Context, work: Work) -> Work:
    return replace(work, verdict=autoreply.classify(work.parsed, ctx.settings.loop_id))


def find_thread(ctx: Context, work: Work) -> Work:
    named = named_ticket(ctx.session, work.parsed, ctx.settings.own_domain)
    if named is not None:
        return replace(work, ticket=named, via="ticket reference")
    linked = linked_tickets(ctx.session, work.parsed)
    if not linked:
        return work
    target, others = linked[0], linked[1:]
    if others and work.verdict is not None and work.verdict.kind in ("normal", "list"):
        tickets.merge(ctx.session, target, others, actor=work.entry.source)
    return replace(work, ticket=target, via="References")


def route(ctx: Context, work: Work) -> Work:
    assert work.verdict is not None
    arrival = tickets.Arrival(
        inbox_id=work.entry.id,
        parsed=work.parsed,
        channel=channel_of(ctx.settings, work),
        received_at=work.entry.received_at,
        actor=work.entry.source,
        verdict=work.verdict.kind,
    )
    kind = work.verdict.kind
    if kind in ("own", "autoreply", "bounce"):
        action = "bounce" if kind == "bounce" else "autoreply"
        if work.ticket is not None:
            msg_kind = MessageKind.BOUNCE if kind == "bounce" else MessageKind.AUTOREPLY
            tickets.add_message(ctx.session, work.ticket, arrival, msg_kind)
            tickets.record_event(ctx.session, work.ticket, arrival.actor, action, reason=work.verdict.reason)
        return done(work, action, work.ticket, work.verdict.reason)
    if work.ticket is not None:
        tickets.append_followup(ctx.session, work.ticket, arrival)
        return done(work, "appended", work.ticket, f"follow-up by {work.via}")
    year = work.entry.received_at.astimezone(ZoneInfo(ctx.settings.calendar.timezone)).year
    ticket = tickets.open_ticket(ctx.session, arrival, year)
    reason = work.verdict.reason if kind == "list" else None
    return done(work, "created", ticket, reason)


def channel_of(settings: Settings, work: Work) -> str:
    if work.entry.channel:
        return work.entry.channel
    sender = work.parsed.sender.addr if work.parsed.sender else ""
    return "fax" if sender and sender in {s.lower() for s in settings.fax.gateway_senders} else "email"


def done(work: Work, action: str, ticket: Ticket | None, reason: str | None) -> Work:
    number = None if ticket is None else ticket.number
    return replace(work, ticket=ticket, outcome=Outcome(work.parsed.message_id, action, number, reason))


STEPS: tuple[Step, ...] = (classify, find_thread, route)


def run_steps(ctx: Context, work: Work, steps: Iterable[Step] = STEPS) -> Work:
    for step in steps:
        work = step(ctx, work)
    assert work.outcome is not None, "the last step must decide an outcome"
    return work


def parse_raw(raw: bytes, limits: ParseLimits, max_bytes: int) -> ParsedMessage | Rejected:
    """Runs in a worker process: any failure becomes a reason, never an exception."""
    if len(raw) > max_bytes:
        return Rejected(f"message is {len(raw)} bytes, over limits.max_message_bytes={max_bytes}")
    try:
        return parse(raw, limits)
    except UnparseableMessage as exc:
        return Rejected(str(exc))
    except Exception as exc:  # a parser bug must not lose the message: it is quarantined
        return Rejected(f"parser error: {type(exc).__name__}: {exc}")


class Parser:
    """Parses raw messages, in worker processes when there are enough of them to pay off."""

    POOL_THRESHOLD = 64

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        lim = settings.limits
        self.limits = ParseLimits(max_attachments=lim.max_attachments, max_depth=lim.max_mime_depth)
        self.max_bytes = lim.max_message_bytes
        self.workers = workers or os.cpu_count() or 1
        self._pool: Executor | None = None

    def map(self, raws: list[bytes]) -> Iterator[ParsedMessage | Rejected]:
        if len(raws) < self.POOL_THRESHOLD or self.workers < 2:
            return (parse_raw(r, self.limits, self.max_bytes) for r in raws)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers)
        n = len(raws)
        chunk = max(1, n // (self.workers * 4))
        return self._pool.map(parse_raw, raws, [self.limits] * n, [self.max_bytes] * n, chunksize=chunk)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def process(
    session: Session, settings: Settings, entries: list[InboxEntry], parsed: Iterable[ParsedMessage | Rejected]
) -> list[Outcome]:
    """Route claimed inbox rows; a message that fails is quarantined and the rest go on."""
    ctx = Context(session, settings)
    return [process_one(ctx, entry, result) for entry, result in zip(entries, parsed, strict=True)]


def process_one(ctx: Context, entry: InboxEntry, result: ParsedMessage | Rejected) -> Outcome:
    if isinstance(result, Rejected):
        return quarantine(ctx.session, entry, result.reason)
    try:
        with ctx.session.begin_nested():
            work = run_steps(ctx, Work(entry, result))
            assert work.outcome is not None
            finish(entry, InboxState.PROCESSED, work.outcome, work.ticket)
    except Exception as exc:  # one bad message never blocks the others
        log.exception("routing failed, message quarantined", inbox_id=entry.id, message_id=entry.message_id)
        return quarantine(ctx.session, entry, f"routing error: {type(exc).__name__}: {exc}")
    return work.outcome


def quarantine(session: Session, entry: InboxEntry, reason: str) -> Outcome:
    outcome = Outcome(entry.message_id, "quarantined", None, reason)
    finish(entry, InboxState.QUARANTINED, outcome, None)
    log.warning("message quarantined", inbox_id=entry.id, message_id=entry.message_id, reason=reason)
    return outcome


def finish(entry: InboxEntry, state: InboxState, outcome: Outcome, ticket: Ticket | None) -> None:
    entry.state = state
    entry.action = outcome.action
    entry.reason = outcome.reason
    entry.ticket_id = None if ticket is None else ticket.id
    entry.processed_at = datetime.now(timezone.utc)
