"""Which ticket a message belongs to, whatever order the thread arrives in.

A subject tag or one of our own Message-IDs names the ticket outright. Otherwise the
thread is the set of messages linked by Message-ID and References, in both directions:
a parent that arrives after its reply finds the reply through the reply's references.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.tickets import by_number, live
from parsers.mime import ParsedMessage
from parsers.refs import find_ticket_number
from storage.models import Message, MessageRef, Ticket


def named_ticket(session: Session, msg: ParsedMessage, own_domain: str) -> Ticket | None:
    number = find_ticket_number(msg, own_domain)
    return None if number is None else by_number(session, number)


def linked_tickets(session: Session, msg: ParsedMessage) -> list[Ticket]:
    """Live tickets holding a message this one refers to, one that refers to it, or one that
    refers to the same message (siblings whose parent never reached us); oldest first."""
    ids = {i for i in (*msg.in_reply_to, *msg.references, *msg.embedded_message_ids) if i}
    ids.discard(msg.message_id)
    referring = select(Message.ticket_id).join(MessageRef, MessageRef.message_pk == Message.id)
    stmt = referring.where(MessageRef.ref == msg.message_id)
    if ids:
        parents = select(Message.ticket_id).where(Message.message_id.in_(ids))
        stmt = stmt.union(parents, referring.where(MessageRef.ref.in_(ids)))
    found = {t.id: t for tid in session.scalars(stmt) if (t := live(session, session.get(Ticket, tid)))}
    return sorted(found.values(), key=lambda t: t.id)
