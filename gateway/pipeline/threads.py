"""Which ticket a message belongs to, whatever order the thread arrives in.

A subject tag or one of our own Message-IDs names the ticket outright. Otherwise the
thread is the set of messages linked by Message-ID and References, in every direction:
a message joins the ticket of a message it refers to, of one that refers to it (a
reply that arrived before its parent), or of one that refers to the same message
(siblings whose parent never reached us). The last two join only mail of the same
sender or organisation (gateway/senders.py): the replies of two offices to one mailing
of someone else's are two questions, and one office's answer must never reach the other.

The index is loaded for a whole batch in a few queries and kept up to date in memory
as the batch is routed, so routing a message costs no database round trip.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import senders
from parsers.mime import ParsedMessage
from parsers.refs import find_ticket_number
from storage.db import rows_in_chunks
from storage.models import Message, MessageRef, Ticket

_new_order = itertools.count(1 << 40)  # tickets created in a batch sort after every stored one


@dataclass(eq=False)
class TicketRef:
    """A ticket as one batch sees it: stored (id set) or about to be created (id None)."""

    number: str
    status: str
    id: int | None = None
    merged_into: TicketRef | None = None
    order: int = field(default_factory=lambda: next(_new_order))

    def live(self) -> TicketRef:
        ticket = self
        while ticket.merged_into is not None:
            ticket = ticket.merged_into
        return ticket


def thread_ids(msg: ParsedMessage) -> set[str]:
    """The ids this message points at: its parents, and for a bounce, the message bounced."""
    ids = {i for i in (*msg.in_reply_to, *msg.references, *msg.embedded_message_ids) if i}
    ids.discard(msg.message_id)
    return ids


class ThreadIndex:
    def __init__(self) -> None:
        self.holder: dict[str, TicketRef] = {}  # Message-ID -> ticket holding it
        # id -> (ticket, sender address) of the messages referring to it
        self.referrers: dict[str, list[tuple[TicketRef, str]]] = defaultdict(list)
        self.numbers: dict[str, TicketRef] = {}

    @classmethod
    def load(cls, session: Session, messages: Iterable[ParsedMessage], own: str,
             named: Iterable[str] = ()) -> ThreadIndex:  # fmt: skip
        """The tickets the messages' threads touch or name (`own`: our address, whose reply
        addresses count), and those `named` in their texts."""
        index, ids, numbers = cls(), set(), set(named)
        for msg in messages:
            ids |= thread_ids(msg) | {msg.message_id}
            if number := find_ticket_number(msg, own):
                numbers.add(number)
        held = rows_in_chunks(session, ids, lambda c: select(Message.message_id, Message.ticket_id).where(Message.message_id.in_(c)))
        refs = rows_in_chunks(
            session,
            ids,
            lambda c: select(MessageRef.ref, Message.ticket_id, Message.from_addr)
            .join(Message, Message.id == MessageRef.message_pk)
            .where(MessageRef.ref.in_(c)),
        )
        tickets = index._load_tickets(session, {r[1] for r in (*held, *refs)}, numbers)
        for message_id, ticket_id in held:
            index.holder.setdefault(message_id, tickets[ticket_id])
        for ref, ticket_id, from_addr in refs:
            index.referrers[ref].append((tickets[ticket_id], _address_in(from_addr)))
        return index

    def _load_tickets(self, session: Session, ids: set[int], numbers: set[str]) -> dict[int, TicketRef]:
        """Tickets by id, following merges to the ticket that now holds each thread."""
        loaded: dict[int, TicketRef] = {}
        merged: dict[int, int] = {}
        stmt = select(Ticket.id, Ticket.number, Ticket.status, Ticket.merged_into_id)
        query = stmt.where(Ticket.id.in_(ids) | Ticket.number.in_(numbers))
        while True:
            for tid, number, status, into in session.execute(query):
                loaded[tid] = self.numbers[number] = TicketRef(number, status, tid, order=tid)
                if into is not None:
                    merged[tid] = into
            missing = set(merged.values()) - set(loaded)
            if not missing:
                break
            query = stmt.where(Ticket.id.in_(missing))
        for tid, into in merged.items():
            loaded[tid].merged_into = loaded[into]
        return loaded

    def named(self, msg: ParsedMessage, own: str) -> TicketRef | None:
        number = find_ticket_number(msg, own)
        ticket = None if number is None else self.numbers.get(number)
        return None if ticket is None else ticket.live()

    def linked(self, msg: ParsedMessage) -> list[TicketRef]:
        """Live tickets of the thread, oldest first: those holding a message this one
        refers to, whoever wrote it; those of replies to it and of its siblings only when
        the same sender or organisation wrote them."""
        sender = _sender(msg)
        found = [self.holder[i] for i in thread_ids(msg) if i in self.holder]
        for i in (msg.message_id, *thread_ids(msg)):
            found += [t for t, by in self.referrers.get(i, ()) if senders.same_organisation(by, sender)]
        return sorted({t.live() for t in found}, key=lambda t: t.order)

    def add(self, msg: ParsedMessage, ticket: TicketRef) -> None:
        self.holder.setdefault(msg.message_id, ticket)
        for i in dict.fromkeys((*msg.in_reply_to, *msg.references)):
            self.referrers[i].append((ticket, _sender(msg)))
        self.numbers[ticket.number] = ticket


def _sender(msg: ParsedMessage) -> str:
    return msg.sender.addr if msg.sender is not None else ""


def _address_in(from_addr: str) -> str:
    """The address of a stored From ("Name <addr>" or a bare address, gateway/pipeline/tickets.py)."""
    return from_addr.rpartition("<")[2].rstrip(">").strip() if from_addr.endswith(">") else from_addr.strip()


