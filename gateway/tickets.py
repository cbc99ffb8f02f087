"""Ticket lifecycle: numbering, opening, adding messages, reopening and merging threads.

Routing decides on TicketRefs and records rows in the batch's ChangeSet; every change
also records an Event: the audit trail is append-only.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.changes import ChangeSet, NewMessage
from gateway.threads import TicketRef
from parsers.mime import ParsedMessage
from storage.db import insert_ignoring_conflicts
from storage.models import Direction, Message, MessageKind, Ticket, TicketCounter, TicketStatus, table

SUBJECT_MAX = 200


@dataclass(frozen=True, slots=True)
class Arrival:
    """An incoming message as the ticket store sees it."""

    inbox_id: int
    parsed: ParsedMessage
    channel: str
    received_at: datetime
    actor: str  # the source, for the audit trail
    verdict: str  # parsers.autoreply kind


class Numbers:
    """Ticket numbers HOT-YYYY-NNNNNN for one batch, without gaps.

    The first number of a year reserves a block under the counter's row lock (held until
    commit, so no other instance can interleave); `release` gives back what was not used.
    """

    def __init__(self, session: Session, block: int) -> None:
        self.session, self.block = session, block
        self.free: dict[int, list[int]] = {}

    def next(self, year: int) -> str:
        if year not in self.free:
            last = self._bump(year, self.block)
            if last is None:  # the year's first ticket ever
                insert_ignoring_conflicts(self.session, TicketCounter, [{"year": year, "last": 0}])
                last = self._bump(year, self.block)
            assert last is not None
            self.free[year] = list(range(last, last - self.block, -1))
        return f"HOT-{year}-{self.free[year].pop():06d}"

    def release(self) -> None:
        for year, unused in self.free.items():
            if unused:
                self._bump(year, -len(unused))
        self.free.clear()

    def _bump(self, year: int, by: int) -> int | None:
        counters = table(TicketCounter)
        stmt = update(counters).where(counters.c.year == year).values(last=counters.c.last + by)
        return self.session.scalar(stmt.returning(counters.c.last))


def open_ticket(numbers: Numbers, changes: ChangeSet, arrival: Arrival, year: int) -> TicketRef:
    msg = arrival.parsed
    reply_to = next((a.addr for a in msg.reply_to if a.addr), None)
    sender = msg.sender.addr if msg.sender and msg.sender.addr else None
    ticket = TicketRef(numbers.next(year), TicketStatus.NEW)
    row = {
        "number": ticket.number,
        "status": ticket.status,
        "channel": arrival.channel,
        "subject": subject_of(msg),
        "user_name": text(msg.sender.name) or None if msg.sender else None,
        "return_emails": [a for a in (reply_to or sender,) if a],
        "return_faxes": [],
        "return_phones": [],
        "received_at": arrival.received_at,
    }
    changes.tickets.append((ticket, row))
    add_message(changes, ticket, arrival, MessageKind.QUESTION)
    changes.event(ticket, arrival.actor, "created", arrival.received_at, inbox_id=arrival.inbox_id, verdict=arrival.verdict)
    return ticket


def text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; mail from broken clients sometimes does."""
    return value.replace("\x00", "")


def shorten(subject: str) -> str:
    subject = " ".join(text(subject).split())
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 1].rstrip() + "…"


def subject_of(msg: ParsedMessage) -> str:
    """The subject line, else the question's first line, shortened."""
    first_line = next((line for line in msg.text.splitlines() if line.strip()), "")
    return shorten(msg.subject) or shorten(first_line) or "(no subject)"


def add_message(changes: ChangeSet, ticket: TicketRef, arrival: Arrival, kind: MessageKind) -> None:
    msg = arrival.parsed
    row = {
        "inbox_id": arrival.inbox_id,
        "direction": Direction.IN,
        "kind": kind,
        "channel": arrival.channel,
        "message_id": msg.message_id,
        "sent_at": msg.date,
        "at": arrival.received_at,
        "from_addr": text(format_address(msg)),
        "to_addrs": [a.addr for a in (*msg.to, *msg.cc) if a.addr],
        "subject": text(msg.subject),
        "text": text(msg.text).rstrip(),
        "headers": {"fields": [list(f) for f in msg.headers], "defects": list(msg.defects), "verdict": arrival.verdict},
    }
    refs = [r for r in dict.fromkeys((*msg.in_reply_to, *msg.references)) if r]
    changes.messages.append(NewMessage(ticket, row, refs, msg.attachments))


def format_address(msg: ParsedMessage) -> str:
    if msg.sender is None:
        return ""
    return f"{msg.sender.name} <{msg.sender.addr}>" if msg.sender.name else msg.sender.addr


def append_followup(changes: ChangeSet, ticket: TicketRef, arrival: Arrival) -> None:
    """A user's message on an existing thread; an answered or closed ticket needs a consultant again."""
    add_message(changes, ticket, arrival, MessageKind.FOLLOWUP)
    changes.threads_grown.add(ticket)
    if ticket.status in (TicketStatus.ANSWERED, TicketStatus.CLOSED):
        changes.event(ticket, arrival.actor, "reopened", arrival.received_at, previous=ticket.status)
        ticket.status = TicketStatus.PENDING
        changes.status[ticket] = {"status": ticket.status, "closed_at": None}
    changes.event(ticket, arrival.actor, "followup", arrival.received_at, inbox_id=arrival.inbox_id)


def merge(changes: ChangeSet, target: TicketRef, others: list[TicketRef], arrival: Arrival) -> None:
    """One thread found in several tickets (replies arrived before their parent): join them."""
    for other in others:
        other.merged_into = target
        changes.merges.append((other, target))
        changes.event(other, arrival.actor, "merged", arrival.received_at, into=target.number)
        changes.event(target, arrival.actor, "merged", arrival.received_at, absorbed=other.number)


def renumber_questions(session: Session, ticket_ids: set[int]) -> None:
    """The earliest user message of a thread (by its Date) is the question, whatever arrived first."""
    if not ticket_ids:
        return
    rows = session.execute(
        select(Message.id, Message.ticket_id, Message.kind, Message.subject)
        .where(Message.ticket_id.in_(ticket_ids), Message.kind.in_([MessageKind.QUESTION, MessageKind.FOLLOWUP]))
        .order_by(Message.ticket_id, Message.sent_at.is_(None), Message.sent_at, Message.id)
    ).all()
    by_ticket: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_ticket[row.ticket_id].append(row)
    kinds, subjects = [], []
    for ticket_id, msgs in by_ticket.items():
        for position, row in enumerate(msgs):
            wanted = MessageKind.QUESTION if position == 0 else MessageKind.FOLLOWUP
            if row.kind != wanted:
                kinds.append({"id": row.id, "kind": wanted})
                if position == 0 and (subject := shorten(row.subject)):
                    subjects.append({"id": ticket_id, "subject": subject})
    if kinds:
        session.execute(update(Message), kinds)
    if subjects:
        session.execute(update(Ticket), subjects)


def by_number(session: Session, number: str) -> Ticket | None:
    """The ticket holding a number's thread now (merged tickets point to their target)."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    while ticket is not None and ticket.merged_into_id is not None:
        ticket = session.get(Ticket, ticket.merged_into_id)
    return ticket


def first_question(session: Session, ticket: Ticket) -> Message | None:
    return session.scalar(
        select(Message).where(Message.ticket_id == ticket.id, Message.kind == MessageKind.QUESTION)
    )


def question_text(session: Session, ticket: Ticket) -> str:
    question = first_question(session, ticket)
    return "" if question is None else question.text


def listing(session: Session, status: str | None) -> Iterator[tuple[Ticket, str]]:
    """Live tickets (merged ones excluded) with their question text, oldest first."""
    stmt = (
        select(Ticket, Message.text)
        .outerjoin(Message, (Message.ticket_id == Ticket.id) & (Message.kind == MessageKind.QUESTION))
        .where(Ticket.merged_into_id.is_(None))
        .order_by(Ticket.id)
    )
    if status:
        stmt = stmt.where(Ticket.status == status)
    for ticket, text in session.execute(stmt):
        yield ticket, text or ""
