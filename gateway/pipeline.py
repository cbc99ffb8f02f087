"""inbox row -> parse -> classify -> thread -> route: one message, one outcome.

Like structlog's processor chain, each step is a small callable taking and returning a
frozen Work. Parsing is CPU-bound and runs in worker processes (gateway/parsing.py); routing runs in order,
in memory, against a thread index loaded once per batch, and the batch's rows are then
stored together (gateway/changes.py) in the caller's transaction.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import answers, screening, tickets
from gateway.acknowledge import AckLimiter, acknowledge
from gateway.delivery import backoff
from gateway.notify import notify
from gateway.screening import Role
from gateway.settings import Settings
from gateway.changes import ChangeSet
from gateway.threads import ThreadIndex, TicketRef
from parsers import autoreply
from gateway.parsing import Parsed
from parsers.reading import Reading, Rejected
from parsers.refs import ticket_number_in_text
from storage.models import InboxEntry, InboxState, MessageKind, PromiseStep

log = structlog.get_logger("hotline.pipeline")
ROUTING_LOCK = 0x686F746C  # "hotl": the advisory lock key of the router


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message: the JSON line `hotline ingest` prints."""

    message_id: str
    action: str  # created appended answered duplicate autoreply bounce held quarantined
    ticket: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Work:
    entry: InboxEntry
    reading: Reading
    verdict: autoreply.Verdict | None = None
    ticket: TicketRef | None = None
    via: str | None = None  # how the ticket was found
    outcome: Outcome | None = None
    opened: dict[str, Any] | None = None  # the row of a ticket this message opened
    role: Role = "user"  # gateway/screening.py
    held: str | None = None  # why, when the role is "held"
    routed_at: datetime | None = None  # when it was first routed: a retried step (gateway/promises.py) judges by it
    foreign: str | None = None  # a follow-up not from the ticket's user: why (gateway/screening.py)
    review: tuple[str, ...] = ()  # why a person must look, found after the ticket was opened (acknowledge)


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    index: ThreadIndex
    changes: ChangeSet
    numbers: tickets.Numbers
    acks: AckLimiter
    session: Session  # for what routing must read of stored tickets (answers, follow-ups)
    secret: str | None  # the reply-token key; None without consultants


Step = Callable[[Context, Work], Work]


def classify(ctx: Context, work: Work) -> Work:
    return replace(work, verdict=autoreply.classify(work.reading.message, ctx.settings.loop_id))


def number_on_fax(reading: Reading) -> str | None:
    """A fax names its ticket only in its text (the user wrote the number on it)."""
    return ticket_number_in_text(tickets.question_of(reading)) if reading.channel == "fax" else None


def find_thread(ctx: Context, work: Work) -> Work:
    named = ctx.index.named(work.reading.message, ctx.settings.outbound.address)
    if named is not None:
        return replace(work, ticket=named, via="ticket reference")
    on_fax = number_on_fax(work.reading)
    if on_fax is not None and on_fax in ctx.index.numbers:
        return replace(work, ticket=ctx.index.numbers[on_fax].live(), via="ticket number on the fax")
    linked = ctx.index.linked(work.reading.message)
    if not linked:
        return work
    target, others = linked[0], linked[1:]
    if others and work.verdict is not None and work.verdict.kind in (*autoreply.PERSON, "list"):
        tickets.merge(ctx.changes, target, others, arrival_of(ctx, work))
    return replace(work, ticket=target, via="References")


def screen(ctx: Context, work: Work) -> Work:
    """A consultant's answer, a user's message, or a claim to be a consultant that is held."""
    if work.verdict is None or work.verdict.kind not in autoreply.PERSON:
        return work
    verdict = screening.screen(ctx.settings, ctx.secret, ctx.index, work.reading.message, work.ticket)
    return replace(work, role=verdict.role, held=verdict.reason)


def route(ctx: Context, work: Work) -> Work:
    assert work.verdict is not None
    arrival, kind = arrival_of(ctx, work), work.verdict.kind
    if kind in ("own", "autoreply", "bounce"):
        action = "bounce" if kind == "bounce" else "autoreply"
        if kind == "bounce":  # one of ours came back: its delivery failed
            msg = work.reading.message
            ctx.changes.bounced.append((work.ticket, [*msg.embedded_message_ids, *msg.in_reply_to],
                                        f"bounced: {msg.subject}"[:500], arrival.received_at))  # fmt: skip
        if work.ticket is not None:
            msg_kind = MessageKind.BOUNCE if kind == "bounce" else MessageKind.AUTOREPLY
            tickets.add_message(ctx.changes, work.ticket, arrival, msg_kind)
            ctx.changes.event(work.ticket, arrival.actor, action, arrival.received_at, reason=work.verdict.reason)
        return done(ctx, work, action, work.ticket, work.verdict.reason)
    if work.role != "user":
        taken = (answers.take(ctx, work, arrival) if work.role == "consultant"
                 else answers.hold(ctx, work, arrival, work.held or "held"))  # fmt: skip
        return done(ctx, work, taken.action, work.ticket, taken.reason)
    if work.ticket is not None:
        foreign = screening.foreign_sender(ctx.session, work.ticket, work.reading)
        tickets.append_followup(ctx.changes, work.ticket, arrival, foreign)
        reason = f"follow-up by {work.via}" + (f"; {foreign}: not reopened, flagged for review" if foreign else "")
        return replace(done(ctx, work, "appended", work.ticket, reason), foreign=foreign)
    ticket, row = tickets.open_ticket(ctx.numbers, ctx.changes, arrival, terms(ctx.settings, work))
    return replace(done(ctx, work, "created", ticket, None if kind == "normal" else work.verdict.reason), opened=row)


def terms(settings: Settings, work: Work) -> tickets.Terms:
    """The times the contract counts from (SPEC.md rules 2 and 3) and the ticket's language."""
    received, calendar = work.entry.received_at, settings.work_calendar
    effective = calendar.effective_receipt(received)
    msg = work.reading.message
    addresses = [a.addr for a in (*msg.reply_to, *((msg.sender,) if msg.sender else ())) if a.addr]
    return tickets.Terms(
        year=received.astimezone(calendar.tz).year,
        effective_received_at=effective,
        ack_due_at=calendar.ack_deadline(effective),
        language=settings.templates.language_for(addresses),
    )


def arrival_of(ctx: Context, work: Work) -> tickets.Arrival:
    return tickets.Arrival(
        inbox_id=work.entry.id,
        reading=work.reading,
        received_at=work.entry.received_at,
        actor=work.entry.source,
        verdict=work.verdict.kind if work.verdict else "normal",
    )


def done(ctx: Context, work: Work, action: str, ticket: TicketRef | None, reason: str | None) -> Work:
    if ticket is not None:
        ctx.index.add(work.reading.message, ticket)
    number = None if ticket is None else ticket.number
    return replace(work, ticket=ticket, outcome=Outcome(work.reading.message.message_id, action, number, reason))


def never_fatal(step: Step) -> Step:
    """For the steps after `route` (acknowledge, notify): what they add follows from a
    ticket that stands, so a failure in them (a bug, a template error) must not quarantine
    the question. What the step had added is undone, and the step is owed: stored with the
    ticket and tried again later (gateway/promises.py) until it succeeds."""

    @functools.wraps(step)
    def guarded(ctx: Context, work: Work) -> Work:
        mark = ctx.changes.mark()
        try:
            return step(ctx, work)
        except Exception as exc:
            ctx.changes.rollback(mark)
            log.exception("step failed; the ticket stands, the step is retried later", step=step.__name__,
                          inbox_id=work.entry.id)  # fmt: skip
            if work.ticket is not None:
                owe(ctx, work, PromiseStep(step.__name__), f"{type(exc).__name__}: {exc}")
            return work

    return guarded


def owe(ctx: Context, work: Work, step: PromiseStep, error: str) -> None:
    """The failed step as a promise still to keep, written with the ticket."""
    assert work.ticket is not None
    now = datetime.now(timezone.utc)
    due = work.opened["ack_due_at"] if work.opened is not None and step == PromiseStep.ACKNOWLEDGE else None
    retry_at = now + backoff(0, ctx.settings.outbound.retry_seconds, ctx.settings.outbound.max_retry_seconds)
    ctx.changes.owed.append((work.ticket, {"inbox_id": work.entry.id, "step": step, "due_at": due, "created_at": now,
                                           "attempts": 1, "next_try_at": retry_at, "last_error": error}))  # fmt: skip
    ctx.changes.event(work.ticket, "hotline", "step_failed", now, step=step, error=error,
                      due=due.isoformat() if due else None, next_try_at=retry_at.isoformat())  # fmt: skip


STEPS: tuple[Step, ...] = (classify, find_thread, screen, route, never_fatal(acknowledge), never_fatal(notify))


def run_steps(ctx: Context, work: Work, steps: Iterable[Step] = STEPS) -> Work:
    for step in steps:
        work = step(ctx, work)
    assert work.outcome is not None, "the last step must decide an outcome"
    return work


def process(session: Session, settings: Settings, entries: list[InboxEntry], parsed: Iterable[Parsed]) -> list[Outcome]:
    """Route claimed inbox rows in order and store the result; a message that fails is
    quarantined and the rest go on. A storage error raises: the caller retries one by one."""
    if session.get_bind().dialect.name == "postgresql":
        # One router at a time across instances, so two halves of a thread never open two
        # tickets; parsing, the expensive part, stays parallel. SQLite's BEGIN IMMEDIATE
        # already serialises writers.
        session.execute(select(func.pg_advisory_xact_lock(ROUTING_LOCK)))
    pairs = list(zip(entries, parsed, strict=True))
    readings = [p for _, p in pairs if isinstance(p, Reading)]
    named = [n for r in readings if (n := number_on_fax(r)) is not None]
    index = ThreadIndex.load(session, [r.message for r in readings], settings.outbound.address, named)
    acks = AckLimiter(session, settings.outbound)
    ctx = Context(settings, index, ChangeSet(), tickets.Numbers(session, block=len(readings)), acks, session,
                  settings.reply_secret)  # fmt: skip
    outcomes = [route_one(ctx, entry, result) for entry, result in pairs]
    ctx.numbers.release()
    ctx.changes.apply(session)
    tickets.renumber_questions(session, ctx.changes.grown())
    return outcomes


def route_one(ctx: Context, entry: InboxEntry, result: Parsed) -> Outcome:
    if isinstance(result, Rejected):
        return quarantine(ctx.changes, entry, result.reason)
    mark = ctx.changes.mark()
    try:
        work = run_steps(ctx, Work(entry, result))
    except Exception as exc:  # one bad message never blocks the others
        ctx.changes.rollback(mark)
        log.exception("routing failed, message quarantined", inbox_id=entry.id, message_id=entry.message_id)
        return quarantine(ctx.changes, entry, f"routing error: {type(exc).__name__}: {exc}")
    assert work.outcome is not None
    finish(ctx.changes, entry, InboxState.PROCESSED, work.outcome, work.ticket)
    return work.outcome


def quarantine(changes: ChangeSet, entry: InboxEntry, reason: str) -> Outcome:
    outcome = Outcome(entry.message_id, "quarantined", None, reason)
    finish(changes, entry, InboxState.QUARANTINED, outcome, None)
    log.warning("message quarantined", inbox_id=entry.id, message_id=entry.message_id, reason=reason)
    return outcome


def finish(changes: ChangeSet, entry: InboxEntry, state: InboxState, outcome: Outcome, ticket: TicketRef | None) -> None:
    values = {
        "state": state,
        "action": outcome.action,
        "reason": outcome.reason,
        "processed_at": datetime.now(timezone.utc),
    }
    changes.inbox.append((entry.id, values, ticket))
