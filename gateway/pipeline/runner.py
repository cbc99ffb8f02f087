"""The runner: inbox rows in, outcomes out, through the one list of steps.

Like structlog's processor chain, each step is a small callable taking and returning a
frozen Work (gateway/pipeline/work.py); this module holds the list and only loops.
Parsing is CPU-bound and happened before, in worker processes (gateway/intake/workers.py);
routing runs in order, in memory, against a thread index loaded once per batch, and the
batch's rows are then stored together (gateway/pipeline/changes.py) in the caller's
transaction.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timezone

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.outbound.delivery import backoff
from gateway.outbound.governor import AckLimiter
from gateway.pipeline import tickets
from gateway.pipeline.acknowledge import acknowledge
from gateway.pipeline.answers import answer
from gateway.pipeline.changes import ChangeSet
from gateway.pipeline.classify import classify
from gateway.pipeline.notify import notify
from gateway.pipeline.route import route
from gateway.pipeline.screen import screen
from gateway.pipeline.thread import find_thread
from gateway.pipeline.threads import ThreadIndex, TicketRef
from gateway.pipeline.work import Context, Outcome, Step, Work
from gateway.register import log as reply_log
from gateway.settings import Settings
from parsers.reading import Parsed, Reading, Rejected
from storage.models import InboxEntry, InboxState, PromiseStep

log = structlog.get_logger("hotline.pipeline")
ROUTING_LOCK = 0x686F746C  # "hotl": the advisory lock key of the router


def never_fatal(step: Step) -> Step:
    """For the steps after `route` (acknowledge, notify): what they add follows from a
    ticket that stands, so a failure in them (a bug, a template error) must not quarantine
    the question. What the step had added is undone, and the step is owed: stored with the
    ticket and tried again later (gateway/pipeline/promises.py) until it succeeds."""

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


STEPS: tuple[Step, ...] = (classify, find_thread, screen, answer, route, never_fatal(acknowledge), never_fatal(notify))


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
    named = [n for r in readings if (n := tickets.number_on_fax(r)) is not None]
    index = ThreadIndex.load(session, [r.message for r in readings], settings.outbound.address, named)
    acks = AckLimiter(session, settings.outbound)
    ctx = Context(settings, index, ChangeSet(), tickets.Numbers(session, block=len(readings)), acks, session,
                  settings.reply_secret, reply_log.witness(session, settings.register_.origin, settings.register_.key_file))  # fmt: skip
    outcomes = [route_one(ctx, entry, result) for entry, result in pairs]
    ctx.numbers.release()
    ctx.changes.apply(session)
    tickets.renumber_questions(session, ctx.changes.grown())
    ctx.changes.log(session, tickets.sla_at_close(session, settings.work_calendars, ctx.changes.closed()))
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
