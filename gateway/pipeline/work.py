"""The pipeline's types: what a step takes and returns, and what it may use. Types only,
importing no step, so that every step and the runner can import them (structlog keeps
its processor type apart from the processors the same way)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, cast, get_args

from sqlalchemy.orm import Session

from gateway.outbound.governor import AckLimiter
from gateway.pipeline import tickets
from gateway.pipeline.changes import ChangeSet
from gateway.pipeline.screening import Role
from gateway.pipeline.threads import ThreadIndex, TicketRef
from gateway.settings import Settings
from parsers import autoreply
from parsers.reading import Reading
from storage.models import InboxEntry

Action = Literal["created", "appended", "answered", "duplicate", "autoreply", "bounce", "held", "quarantined"]


def stored_action(value: str | None, default: Action) -> Action:
    """An action as the inbox recorded it (a plain column)."""
    return cast(Action, value) if value in get_args(Action) else default


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message: the JSON line `hotline ingest` prints."""

    message_id: str
    action: Action
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
    role: Role = "user"  # gateway/pipeline/screening.py
    held: str | None = None  # why, when the role is "held"
    routed_at: datetime | None = None  # when it was first routed: a retried step (promises.py) judges by it
    foreign: str | None = None  # a follow-up not from the ticket's user: why (screening.py)
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
    checkpoint: str | None = None  # the reply log's latest signed checkpoint, for acks and answers


Step = Callable[[Context, Work], Work]


def arrival_of(work: Work) -> tickets.Arrival:
    """The message as the ticket records it."""
    return tickets.Arrival(
        inbox_id=work.entry.id,
        reading=work.reading,
        received_at=work.entry.received_at,
        actor=work.entry.source,
        verdict=work.verdict.kind if work.verdict else "normal",
    )


def decided(ctx: Context, work: Work, action: Action, ticket: TicketRef | None, reason: str | None) -> Work:
    """The message's outcome; the thread index learns its ticket for the rest of the batch."""
    if ticket is not None:
        ctx.index.add(work.reading.message, ticket)
    number = None if ticket is None else ticket.number
    return replace(work, ticket=ticket, outcome=Outcome(work.reading.message.message_id, action, number, reason))
