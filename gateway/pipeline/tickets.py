"""Ticket lifecycle: numbering, opening, adding messages, reopening and merging threads.

Routing decides on TicketRefs and records rows in the batch's ChangeSet; every change
also records an Event: the audit trail is append-only.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import lifecycle, senders
from gateway.sla import clocks
from gateway.sla.plans import Terms as SlaTerms
from gateway.worktime import WorkCalendar
from gateway.pipeline.changes import ChangeSet, NewMessage
from gateway.register.log import Record
from gateway.outbound.outbox import Outgoing
from parsers.refs import ticket_number_in_text
from parsers.text import shorten
from parsers.reading import Reading
from gateway.pipeline.threads import TicketRef
from parsers.hot01 import Field
from parsers.mime import Attachment, ParsedMessage
from storage.db import among, insert_ignoring_conflicts, rows_in_chunks
from storage.models import Direction, Event, LogKind, Message, MessageKind, Ticket, TicketCounter, TicketStatus, table

SUBJECT_MAX = 200
REVIEW_CONFIDENCE = 0.5  # a form field read with less is a guess
OCR_SUFFIX = ".ocr.txt"  # the text read from a document, kept beside it as "<document>.ocr.txt"


@dataclass(frozen=True, slots=True)
class Arrival:
    """An incoming message as the ticket store sees it."""

    inbox_id: int
    reading: Reading
    received_at: datetime
    actor: str  # the source, for the audit trail
    verdict: str  # parsers.autoreply kind

    @property
    def parsed(self) -> ParsedMessage:
        return self.reading.message

    @property
    def channel(self) -> str:
        return self.reading.channel


@dataclass(frozen=True, slots=True)
class Terms:
    """What the contract and the calendar decide for a new ticket."""

    year: int  # of its number, in the calendar's time zone
    effective_received_at: datetime
    ack_due_at: datetime
    language: str
    sla: SlaTerms  # the plan and its targets as they stand now: recorded, never re-read
    severity: int  # the plan's default


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


def open_ticket(numbers: Numbers, changes: ChangeSet, arrival: Arrival, terms: Terms) -> tuple[TicketRef, dict[str, Any]]:
    reading = arrival.reading
    form = reading.form if reading.form is not None and reading.form.is_form else None
    emails, faxes, phones = return_contacts(reading)
    review = review_reasons(reading, bool(emails or faxes or phones))
    life = lifecycle.opened()
    ticket = TicketRef(numbers.next(terms.year), life["status"])
    row = {
        "number": ticket.number,
        **life,
        "channel": arrival.channel,
        "subject": subject_of(reading),
        "user_name": _value(form.user_name) if form else sender_name(reading),
        "office": _value(form.office) if form else None,
        "reference": _value(form.reference) if form else None,
        "form_date": form.form_date if form else None,
        "return_emails": emails,
        "return_faxes": faxes,
        "return_phones": phones,
        "needs_review": bool(review),
        "received_at": arrival.received_at,
        "effective_received_at": terms.effective_received_at,
        "ack_due_at": terms.ack_due_at,
        "language": terms.language,
        "severity": terms.severity,
        "plan": terms.sla.plan,
        "sla_terms": terms.sla.json(),
        "sla_next_at": arrival.received_at,  # the SLA job computes its stages at once (a 24x7 clock runs now)
    }
    changes.tickets.append((ticket, row))
    add_message(changes, ticket, arrival, MessageKind.QUESTION)
    if reading.note:  # the form came attached: the e-mail's own text is kept beside the question
        add_message(changes, ticket, arrival, MessageKind.NOTE, text_=reading.note, files=False)
    changes.event(ticket, arrival.actor, "created", arrival.received_at, inbox_id=arrival.inbox_id, verdict=arrival.verdict)
    if review:
        changes.event(ticket, arrival.actor, "needs_review", arrival.received_at, reasons=review)
    return ticket, row


def sender_name(reading: Reading) -> str | None:
    """The From display name, for e-mail only: a fax gateway's name is not the user's."""
    sender = reading.message.sender
    return text(sender.name) or None if sender is not None and reading.channel == "email" else None


def _value(field: Field | None) -> str | None:
    return text(field.value).strip() or None if field is not None else None


def number_on_fax(reading: Reading) -> str | None:
    """A fax names its ticket only in its text (the user wrote the number on it)."""
    return ticket_number_in_text(question_of(reading)) if reading.channel == "fax" else None


def question_of(reading: Reading) -> str:
    """The form's question when there is a form (or a fax's whole text), else the body."""
    return reading.form.question.value if reading.form is not None else reading.message.text


def return_contacts(reading: Reading) -> tuple[list[str], list[str], list[str]]:
    """Where the acknowledgement and the answer go (SPEC rule 3 and 4): the contacts named
    on the form; without any, back the way the question came."""
    form = reading.form
    if form is not None and form.is_form and (form.return_emails or form.return_faxes or form.return_phones):
        return list(form.return_emails), list(form.return_faxes), list(form.return_phones)
    if reading.channel == "fax":
        return [], [reading.caller_id] if reading.caller_id else [], []
    msg = reading.message
    reply_to = next((a.addr for a in msg.reply_to if a.addr), None)
    sender = msg.sender.addr if msg.sender and msg.sender.addr else None
    if foreign_reply_to(msg) is not None:  # the sender first: our mail is not reflected to a stranger
        return [a for a in (sender, reply_to) if a], [], []
    return [a for a in (reply_to or sender,) if a], [], []


def foreign_reply_to(msg: ParsedMessage) -> str | None:
    """A Reply-To outside the sender's organisation (gateway/senders.py), else None.

    Anyone can send us mail with a stranger's Reply-To and make our acknowledgement (with
    the subject and name they chose) land in the stranger's mailbox: spam reflected
    through our domain. So a Reply-To of the sender's own organisation is followed (a
    secretariat answering for its office), any other one is only listed after the sender
    and the ticket flagged, for a consultant to judge."""
    sender = msg.sender.addr if msg.sender and msg.sender.addr else None
    reply_to = next((a.addr for a in msg.reply_to if a.addr), None)
    if sender is None or reply_to is None or senders.same_organisation(sender, reply_to):
        return None
    return reply_to


def review_reasons(reading: Reading, has_contact: bool) -> list[str]:
    """Why a person should look at this ticket; the question is never dropped either way."""
    reasons = list(reading.problems)
    if reading.form is not None and reading.form.question.confidence < REVIEW_CONFIDENCE:
        reasons.append(f"question read with low confidence ({reading.form.question.confidence:.2f})")
    if reading.form is not None and not reading.form.question.value.strip():
        reasons.append("no question text found")
    if not has_contact:
        reasons.append("no return contact: no e-mail, fax or phone on the form and no sender fax number")
    if reading.channel == "fax" and not reading.documents:
        reasons.append("fax without a readable document")
    if reading.channel == "email" and (stranger := foreign_reply_to(reading.message)) is not None:
        reasons.append(f"Reply-To {stranger} is not the sender's organisation: acknowledged to the sender only")
    return reasons


def text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; mail from broken clients sometimes does."""
    return value.replace("\x00", "")


def subject_line(subject: str) -> str:
    """A subject on one line, at most SUBJECT_MAX characters (a ticket's list shows it)."""
    return shorten(" ".join(text(subject).split()), SUBJECT_MAX)


def subject_of(reading: Reading) -> str:
    """A form's (or fax's) question's first line, since a gateway's "Fax from ..." says
    nothing; else the subject line, else the body's first line; shortened."""
    first_line = next((line for line in question_of(reading).splitlines() if line.strip()), "")
    candidates = (first_line, reading.message.subject) if reading.form else (reading.message.subject, first_line)
    return next((short for c in candidates if (short := subject_line(c))), "(no subject)")


def add_message(changes: ChangeSet, ticket: TicketRef, arrival: Arrival, kind: MessageKind, *,
                text_: str | None = None, to: list[str] | None = None, sends: Outgoing | None = None,
                outbound: bool = False, files: bool = True) -> None:  # fmt: skip
    """The arrival as a message on the ticket. A consultant's answer is `outbound` and
    overrides what the ticket shows (`text_`: the new text only; `to`: the user); it
    carries the outgoing mail that forwards it (`sends`), if any, and the arrival's
    attachments unless `files` is False (a second message of the same arrival)."""
    msg, reading = arrival.parsed, arrival.reading
    row = {
        "inbox_id": arrival.inbox_id,
        "direction": Direction.OUT if outbound else Direction.IN,
        "kind": kind,
        "channel": sends.channel if sends is not None else arrival.channel,
        "message_id": msg.message_id,
        "sent_at": msg.date,
        "at": arrival.received_at,
        "from_addr": text(format_address(msg)),
        "to_addrs": to if to is not None else [a.addr for a in (*msg.to, *msg.cc) if a.addr],
        "subject": text(msg.subject),
        "text": text(question_of(reading) if text_ is None else text_).rstrip(),
        "headers": {"fields": [list(f) for f in msg.headers], "defects": list(msg.defects), "verdict": arrival.verdict},
    }
    refs = [] if outbound else [r for r in dict.fromkeys((*msg.in_reply_to, *msg.references)) if r]
    attachments = (*msg.attachments, *ocr_texts(reading)) if files else ()
    changes.add(NewMessage(ticket, row, refs, attachments, sends))


def ocr_texts(reading: Reading) -> list[Attachment]:
    """The text read from each document, kept beside the original for review and search."""
    kept = []
    for doc in reading.documents:
        data = doc.text.encode("utf-8")
        if any(p.source == "ocr" for p in doc.pages):
            kept.append(Attachment(f"{doc.filename}{OCR_SUFFIX}", "text/plain", data, hashlib.sha256(data).hexdigest()))
    return kept


def format_address(msg: ParsedMessage) -> str:
    if msg.sender is None:
        return ""
    return f"{msg.sender.name} <{msg.sender.addr}>" if msg.sender.name else msg.sender.addr


def append_followup(changes: ChangeSet, ticket: TicketRef, arrival: Arrival, foreign: str | None = None,
                    resolution_due: datetime | None = None) -> None:  # fmt: skip
    """A user's message on an existing thread; an answered or closed ticket needs a consultant again.

    A `foreign` one (gateway/pipeline/screening.py: not from the ticket's user) is kept and marked,
    and the ticket flagged; it never reopens the ticket nor competes to be its question.
    `resolution_due`: the new cycle's deadline when it reopens a closed ticket (reopened_due)."""
    add_message(changes, ticket, arrival, MessageKind.FOLLOWUP)
    if foreign is not None:
        changes.update(ticket, needs_review=True)
        changes.event(ticket, arrival.actor, "followup", arrival.received_at, inbox_id=arrival.inbox_id, foreign_sender=foreign)
        changes.event(ticket, "hotline", "needs_review", arrival.received_at, reasons=[foreign])
        return
    changes.threads_grown.add(ticket)
    if again := lifecycle.reopened(lifecycle.Life(ticket.status)):
        due = {"resolution_due_at": resolution_due.isoformat()} if resolution_due is not None else {}
        changes.event(ticket, arrival.actor, "reopened", arrival.received_at, previous=ticket.status, **due)
        changes.update(ticket, **again)
    changes.event(ticket, arrival.actor, "followup", arrival.received_at, inbox_id=arrival.inbox_id)


def merge(changes: ChangeSet, target: TicketRef, others: list[TicketRef], arrival: Arrival) -> None:
    """One thread found in several tickets (replies arrived before their parent): join them."""
    for other in others:
        other.merged_into = target
        changes.merges.append((other, target))
        changes.event(other, arrival.actor, "merged", arrival.received_at, into=target.number)
        changes.event(target, arrival.actor, "merged", arrival.received_at, absorbed=other.number)


def renumber_questions(session: Session, ticket_ids: set[int]) -> None:
    """The earliest user message of a thread is the question, whatever arrived first.

    Earliest by the best evidence all of them carry: their Date when every one has one (a
    reply that overtook its parent on the way), else when we received them (a Date cannot
    be compared with a missing one: sorting those last made a Date-less question lose its
    place to the first reply), else the inbox order."""
    if not ticket_ids:
        return
    rows = session.execute(
        select(Message.id, Message.ticket_id, Message.kind, Message.subject, Message.sent_at, Message.at)
        .where(Message.ticket_id.in_(ticket_ids), Message.kind.in_([MessageKind.QUESTION, MessageKind.FOLLOWUP]))
        .order_by(Message.ticket_id, Message.id)
    ).all()
    by_ticket: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_ticket[row.ticket_id].append(row)
    kinds, subjects = [], []
    for ticket_id, msgs in by_ticket.items():
        for position, row in enumerate(sorted(msgs, key=_arrival_key(msgs))):
            wanted = MessageKind.QUESTION if position == 0 else MessageKind.FOLLOWUP
            if row.kind != wanted:
                kinds.append({"id": row.id, "kind": wanted})
                if position == 0 and (subject := subject_line(row.subject)):
                    subjects.append({"id": ticket_id, "subject": subject})
    if kinds:
        session.execute(update(Message), kinds)
    if subjects:
        session.execute(update(Ticket), subjects)


def _arrival_key(msgs: list[Any]) -> Callable[[Any], tuple[datetime, int]]:
    """Sort key of one thread's messages (rows in inbox order): Date when all have one, else receipt."""
    if all(m.sent_at is not None for m in msgs):
        return lambda m: (m.sent_at, m.id)
    return lambda m: (m.at, m.id)


def by_number(session: Session, number: str) -> Ticket | None:
    """The ticket holding a number's thread now (merged tickets point to their target)."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    while ticket is not None and ticket.merged_into_id is not None:
        ticket = session.get(Ticket, ticket.merged_into_id)
    return ticket


def events_of(session: Session, ticket: Ticket) -> list[Event]:
    """The ticket's audit trail, oldest first (a merged ticket's history stays its own)."""
    return list(session.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)))


TimelineEvent = tuple[str, datetime, dict[str, Any]]  # (kind, at, data): what the SLA clocks read


def timeline_events(session: Session, ticket_ids: Iterable[int]) -> dict[int, list[TimelineEvent]]:
    """The events of many tickets, oldest first, read at once (one query per IN_CHUNK
    tickets): a listing of thousands must not ask once per ticket."""
    trails: dict[int, list[TimelineEvent]] = {i: [] for i in ticket_ids}
    rows = rows_in_chunks(session, trails, lambda chunk: select(Event.ticket_id, Event.kind, Event.at, Event.data)
                          .where(among(session, Event.ticket_id, chunk), Event.kind.in_(clocks.TIMELINE_EVENTS))
                          .order_by(Event.ticket_id, Event.id))  # fmt: skip
    for ticket_id, kind, at, data in rows:
        trails[ticket_id].append((kind, at, data))
    return trails


def sla_runs(session: Session, calendars: dict[str, WorkCalendar], ticket: Ticket, severity: int | None = None,
             events: list[TimelineEvent] | None = None) -> list[clocks.Run]:  # fmt: skip
    """The ticket's SLA clocks (at its severity, or another one asked about); none for a
    ticket stored before plans were recorded. `events`: its timeline_events when the caller
    read those of many tickets at once."""
    if ticket.sla_terms is None:
        return []
    if events is None:
        events = timeline_events(session, [ticket.id])[ticket.id]
    return runs_of(ticket, SlaTerms.from_json(ticket.sla_terms), events, calendars, severity)


class ClockColumns(Protocol):
    """The ticket columns its clocks are reckoned from: a Ticket, or a row of those columns."""

    @property
    def received_at(self) -> datetime: ...
    @property
    def acked_at(self) -> datetime | None: ...
    @property
    def first_answer_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def severity(self) -> int: ...


def runs_of(ticket: ClockColumns, terms: SlaTerms, events: Iterable[tuple[str, datetime, Mapping[str, Any]]],
            calendars: Mapping[str, WorkCalendar], severity: int | None = None) -> list[clocks.Run]:  # fmt: skip
    """The clocks from events already read (kind, at, data; oldest first) and the terms
    recorded at receipt (the register decodes each plan's terms once, not once a ticket)."""
    line = clocks.timeline(ticket.received_at, ticket.acked_at, ticket.first_answer_at, ticket.closed_at, events)
    return clocks.runs(terms, severity or ticket.severity, line, calendars)


def reopened_due(session: Session, calendars: dict[str, WorkCalendar], ref: TicketRef, at: datetime) -> datetime | None:
    """The resolution due time a user's message at `at` would set by reopening a closed
    stored ticket; None when it reopens nothing new (open, not stored, or no plan recorded)."""
    ticket = session.get(Ticket, ref.id) if ref.id is not None and ref.status == TicketStatus.CLOSED else None
    if ticket is None or ticket.sla_terms is None:
        return None
    return clocks.new_cycle_due(SlaTerms.from_json(ticket.sla_terms), ticket.severity, ticket.received_at, at, calendars)


def sla_at_close(session: Session, calendars: dict[str, WorkCalendar], closed: Iterable[TicketRef]) -> list[Record]:
    """Reply-log entries of each closed ticket's SLA clocks, frozen at its closing (met or
    breached, minutes late); none for a ticket without recorded plan terms."""
    records = []
    for ref in closed:
        ticket = session.get(Ticket, ref.id, populate_existing=True)  # the batch updated it with Core statements
        if ticket is None or ticket.closed_at is None or not (runs := sla_runs(session, calendars, ticket)):
            continue
        clocks_ = {r.clock.value: r.result(ticket.closed_at).frozen() for r in runs}
        facts = {"plan": ticket.plan, "severity": ticket.severity, "clocks": clocks_}
        records.append(Record(ticket.id, ticket.number, LogKind.SLA, ticket.closed_at, facts))
    return records


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
