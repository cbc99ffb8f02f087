"""Acknowledgements and notifications are promises with a deadline, not a best effort.

When the acknowledge or notify step fails as a message is routed (a template error, a
bug), the ticket stands and the step is owed (a `pending_steps` row and a `step_failed`
event, written by gateway/pipeline/runner.py with the ticket). `keep_due`, a job of `hotline
run`, runs the same step again on the same message, read again from its raw bytes, until
it succeeds (event `step_done`); between tries it backs off as the outbox does
(`[outbound] retry_seconds`, doubled up to `max_retry_seconds`). An acknowledgement sent
late still states the ticket's own deadline. While anything is owed, /health is not ok.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.pipeline import tickets
from gateway.outbound.governor import AckLimiter
from gateway.pipeline.acknowledge import acknowledge
from gateway.pipeline.changes import ChangeSet
from gateway.outbound.delivery import backoff
from gateway.pipeline.notify import notify
from gateway.pipeline.work import Context, Outcome, Work, stored_action
from parsers.reading import Parsed, Rejected
from gateway.register import log as reply_log
from gateway.settings import Settings
from gateway.pipeline.threads import ThreadIndex, TicketRef
from parsers import autoreply
from storage import blobs
from storage.db import transaction
from storage.models import Event, InboxEntry, PendingStep, PromiseStep, Ticket

log = structlog.get_logger("hotline.promises")
BATCH = 50
STEPS: dict[str, Callable[[Context, Work], Work]] = {PromiseStep.ACKNOWLEDGE: acknowledge, PromiseStep.NOTIFY: notify}
_TICKET_ROW = ("number", "status", "channel", "subject", "language", "reference", "user_name", "office",
               "received_at", "effective_received_at", "ack_due_at", "needs_review",
               "return_emails", "return_faxes", "return_phones")  # fmt: skip

# reads raw messages (the daemon's worker pool, gateway/intake/workers.py: Parser.map)
Read = Callable[[list[bytes], list[str | None]], Iterable[Parsed]]


@dataclass(frozen=True, slots=True)
class Kept:
    """One try of an owed step: kept, or still owed with the error of this try."""

    ticket: str
    step: str
    kept: bool
    error: str | None


def keep_due(factory: sessionmaker[Session], settings: Settings, read: Read) -> list[Kept]:
    """Try every owed step whose next try is due; each in its own transaction."""
    with factory() as session:
        rows = session.execute(
            select(PendingStep.id, InboxEntry.raw_sha256, InboxEntry.channel)
            .join(InboxEntry, InboxEntry.id == PendingStep.inbox_id)
            .where(PendingStep.done_at.is_(None), PendingStep.next_try_at <= _now())
            .order_by(PendingStep.next_try_at)
            .limit(BATCH)
        ).all()
        raws = blobs.get_many(session, [row.raw_sha256 for row in rows])
    readings = read([raws[row.raw_sha256] for row in rows], [row.channel for row in rows])
    tried = (keep_one(factory, settings, row.id, reading) for row, reading in zip(rows, readings, strict=True))
    return [kept for kept in tried if kept is not None]


def keep_one(factory: sessionmaker[Session], settings: Settings, pending_id: int, parsed: Parsed) -> Kept | None:
    """Run the owed step and store what it adds, or record the failure and the next try.
    None when another worker kept it meanwhile."""
    now = _now()
    with transaction(factory) as session:
        owed = session.get(PendingStep, pending_id, with_for_update=True)
        if owed is None or owed.done_at is not None:
            return None
        ticket, entry = session.get_one(Ticket, owed.ticket_id), session.get_one(InboxEntry, owed.inbox_id)
        changes = ChangeSet()
        try:
            _run(session, settings, changes, owed.step, ticket, entry, parsed)
        except Exception as exc:
            return _still_owed(session, settings, owed, ticket.number, f"{type(exc).__name__}: {exc}", now)
        changes.event(TicketRef(ticket.number, ticket.status, ticket.id), "hotline", "step_done", now, step=owed.step,
                      attempts=owed.attempts + 1, owed_since=owed.created_at.isoformat())  # fmt: skip
        changes.apply(session)
        changes.log(session)
        owed.attempts, owed.done_at = owed.attempts + 1, now
    log.info("owed step kept", ticket=ticket.number, step=owed.step, attempts=owed.attempts)
    return Kept(ticket.number, owed.step, True, None)


def _run(session: Session, settings: Settings, changes: ChangeSet, step: str, ticket: Ticket, entry: InboxEntry,
         parsed: Parsed) -> None:  # fmt: skip
    """The step as routing ran it: the same message, the ticket it made or joined."""
    if isinstance(parsed, Rejected):
        raise ValueError(f"the message can no longer be read: {parsed.reason}")
    ref = TicketRef(ticket.number, ticket.status, ticket.id)
    row: dict[str, Any] = {name: getattr(ticket, name) for name in _TICKET_ROW}
    created = entry.action == "created"
    work = Work(entry, parsed, verdict=autoreply.classify(parsed.message, settings.loop_id), ticket=ref,
                outcome=Outcome(parsed.message.message_id, stored_action(entry.action, "created"), ticket.number, None),
                opened=row if created else None, routed_at=entry.processed_at)  # fmt: skip
    ctx = Context(settings, ThreadIndex(), changes, tickets.Numbers(session, block=0),
                  AckLimiter(session, settings.outbound), session, settings.reply_secret,
                  reply_log.witness(session, settings.register_.origin, settings.register_.key_file))  # fmt: skip
    STEPS[step](ctx, work)
    ticket.needs_review = bool(row["needs_review"])  # an acknowledgement left to a person flags the ticket


def _still_owed(session: Session, settings: Settings, owed: PendingStep, number: str, error: str,
               now: datetime) -> Kept:  # fmt: skip
    """The next try backs off; each failed try is an event, so the ticket shows the delay."""
    cfg = settings.outbound
    owed.next_try_at = now + backoff(owed.attempts, cfg.retry_seconds, cfg.max_retry_seconds)
    owed.attempts, owed.last_error = owed.attempts + 1, error
    session.add(Event(ticket_id=owed.ticket_id, at=now, actor="hotline", kind="step_failed",
                      data={"step": owed.step, "error": error, "attempts": owed.attempts,
                            "due": owed.due_at.isoformat() if owed.due_at else None,
                            "next_try_at": owed.next_try_at.isoformat()}))  # fmt: skip
    log.warning("owed step failed again", ticket=number, step=owed.step, attempts=owed.attempts, error=error,
                next_try_at=owed.next_try_at.isoformat())  # fmt: skip
    return Kept(number, owed.step, False, error)


def _now() -> datetime:
    return datetime.now(timezone.utc)
