"""Ticket lifecycle: numbering, opening, adding messages, reopening and merging threads.

Every change writes an Event row: the audit trail is append-only.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parsers.mime import ParsedMessage
from storage import blobs
from storage.db import insert_ignoring_conflicts
from storage.models import (
    Attachment,
    Direction,
    Event,
    Message,
    MessageKind,
    MessageRef,
    Ticket,
    TicketCounter,
    TicketStatus,
)

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


def next_number(session: Session, year: int) -> str:
    """HOT-YYYY-NNNNNN from a per-year counter; the UPDATE's row lock serialises instances."""
    insert_ignoring_conflicts(session, TicketCounter, [{"year": year, "last": 0}])
    last = session.scalar(
        update(TicketCounter)
        .where(TicketCounter.year == year)
        .values(last=TicketCounter.last + 1)
        .returning(TicketCounter.last)
    )
    return f"HOT-{year}-{last:06d}"


def by_number(session: Session, number: str) -> Ticket | None:
    return live(session, session.scalar(select(Ticket).where(Ticket.number == number)))


def live(session: Session, ticket: Ticket | None) -> Ticket | None:
    """Follow merges to the ticket that now holds the thread."""
    while ticket is not None and ticket.merged_into_id is not None:
        ticket = session.get(Ticket, ticket.merged_into_id)
    return ticket


def record_event(session: Session, ticket: Ticket | None, actor: str, kind: str, **data: Any) -> None:
    session.add(Event(ticket_id=None if ticket is None else ticket.id, actor=actor, kind=kind, data=data))


def open_ticket(session: Session, arrival: Arrival, number_year: int) -> Ticket:
    msg = arrival.parsed
    reply_to = next((a.addr for a in msg.reply_to if a.addr), None)
    sender = msg.sender.addr if msg.sender and msg.sender.addr else None
    ticket = Ticket(
        number=next_number(session, number_year),
        status=TicketStatus.NEW,
        channel=arrival.channel,
        subject=subject_of(msg),
        user_name=(msg.sender.name or None) if msg.sender else None,
        return_emails=[a for a in (reply_to or sender,) if a],
        return_faxes=[],
        return_phones=[],
        received_at=arrival.received_at,
    )
    session.add(ticket)
    session.flush()
    add_message(session, ticket, arrival, MessageKind.QUESTION)
    record_event(session, ticket, arrival.actor, "created", inbox_id=arrival.inbox_id, verdict=arrival.verdict)
    return ticket


def subject_of(msg: ParsedMessage) -> str:
    """The subject line, else the question's first line, shortened."""
    subject = " ".join(msg.subject.split())
    if not subject:
        subject = next((line.strip() for line in msg.text.splitlines() if line.strip()), "")
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    return subject or "(no subject)"


def add_message(session: Session, ticket: Ticket, arrival: Arrival, kind: MessageKind) -> Message:
    msg = arrival.parsed
    message = Message(
        ticket_id=ticket.id,
        inbox_id=arrival.inbox_id,
        direction=Direction.IN,
        kind=kind,
        channel=arrival.channel,
        message_id=msg.message_id,
        sent_at=msg.date,
        at=arrival.received_at,
        from_addr=format_address(msg),
        to_addrs=[a.addr for a in (*msg.to, *msg.cc) if a.addr],
        subject=msg.subject,
        text=msg.text.rstrip(),
        headers={"fields": [list(f) for f in msg.headers], "defects": list(msg.defects), "verdict": arrival.verdict},
    )
    session.add(message)
    session.flush()
    refs = dict.fromkeys((*msg.in_reply_to, *msg.references))
    session.add_all(MessageRef(message_pk=message.id, ref=ref[:998]) for ref in refs if ref)
    for att in msg.attachments:
        sha = blobs.put(session, att.data, att.sha256)
        session.add(
            Attachment(
                message_pk=message.id,
                blob_sha256=sha,
                filename=att.filename,
                content_type=att.content_type,
                size=len(att.data),
            )
        )
    return message


def format_address(msg: ParsedMessage) -> str:
    if msg.sender is None:
        return ""
    return f"{msg.sender.name} <{msg.sender.addr}>" if msg.sender.name else msg.sender.addr


def append_followup(session: Session, ticket: Ticket, arrival: Arrival) -> Message:
    """A user's message on an existing thread; an answered or closed ticket needs a consultant again."""
    question = first_question(session, ticket)
    older = _is_older(arrival.parsed, question)
    message = add_message(session, ticket, arrival, MessageKind.QUESTION if older else MessageKind.FOLLOWUP)
    if older and question is not None:
        # The thread's true first message arrived late: it becomes the question.
        question.kind = MessageKind.FOLLOWUP
        ticket.subject = subject_of(arrival.parsed)
    if ticket.status in (TicketStatus.ANSWERED, TicketStatus.CLOSED):
        record_event(session, ticket, arrival.actor, "reopened", previous=ticket.status)
        ticket.status = TicketStatus.PENDING
        ticket.closed_at = None
    record_event(session, ticket, arrival.actor, "followup", inbox_id=arrival.inbox_id)
    return message


def first_question(session: Session, ticket: Ticket) -> Message | None:
    return session.scalar(
        select(Message).where(Message.ticket_id == ticket.id, Message.kind == MessageKind.QUESTION)
    )


def _is_older(msg: ParsedMessage, question: Message | None) -> bool:
    if question is None:
        return True
    return msg.date is not None and question.sent_at is not None and msg.date < question.sent_at


def merge(session: Session, target: Ticket, others: list[Ticket], actor: str) -> None:
    """One thread found in several tickets (replies arrived before their parent): join them."""
    for other in others:
        session.execute(update(Message).where(Message.ticket_id == other.id).values(ticket_id=target.id))
        other.merged_into_id = target.id
        target.received_at = min(target.received_at, other.received_at)
        other.status = TicketStatus.CLOSED
        record_event(session, other, actor, "merged", into=target.number)
        record_event(session, target, actor, "merged", absorbed=other.number)
    session.expire(target, ["messages"])
    questions = list(
        session.scalars(
            select(Message)
            .where(Message.ticket_id == target.id, Message.kind == MessageKind.QUESTION)
            .order_by(Message.sent_at.is_(None), Message.sent_at, Message.id)
        )
    )
    for later in questions[1:]:
        later.kind = MessageKind.FOLLOWUP
    if questions:
        target.subject = " ".join(questions[0].subject.split())[:SUBJECT_MAX] or target.subject


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
