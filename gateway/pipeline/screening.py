"""Who is writing: a user, a consultant answering, or someone who only claims to be one.

A consultant's answer is taken only from one configured consultant address (a single From
mailbox), sent to our own reply address of the very ticket it is routed to with a valid
token (gateway/tokens.py), naming no other ticket, and, where our receiving MTA vouches
for senders (trusted Authentication-Results), with the From's domain proven. Anything
else that claims to answer (a reply address, or a consultant's From on a ticket's
thread) is held for a person: it is never forwarded to a user.
"""
from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import tokens
from parsers.reading import Reading
from gateway.settings import Settings
from gateway.pipeline.threads import ThreadIndex, TicketRef
from parsers import authres
from parsers.mime import ParsedMessage
from parsers.phone import normalise_number
from parsers.refs import recipients, tickets_named
from storage.models import Message, MessageKind, Ticket

Role = Literal["user", "consultant", "held"]


@dataclass(frozen=True, slots=True)
class Verdict:
    role: Role
    reason: str | None = None


USER = Verdict("user")


def screen(settings: Settings, secret: str | None, index: ThreadIndex, msg: ParsedMessage,
           ticket: TicketRef | None) -> Verdict:  # fmt: skip
    own = settings.outbound.address
    sender = msg.sender.addr.lower() if msg.sender and msg.sender.addr else ""
    claims = [c for a in recipients(msg) if (c := tokens.claimed(a, own))]
    consultant = bool(sender) and settings.consultants.is_consultant(sender)
    if not claims:
        if consultant and ticket is not None:
            return Verdict("held", f"{sender} wrote on the thread without a reply token: answer with Reply to the notification")
        return USER  # anyone, consultants too, may ask a question of their own
    number, token = claims[0]
    if len(msg.senders) != 1:
        return Verdict("held", f"sent to the reply address of {number} with {len(msg.senders)} From mailboxes")
    if not consultant:
        return Verdict("held", f"sent to the reply address of {number} from {sender or 'no sender'}, not a consultant address")
    if secret is None or not tokens.valid(secret, number, token):
        return Verdict("held", f"wrong reply token for {number}")
    return _one_ticket(index, msg, own, number, ticket) or _authenticated(settings, msg, sender)


def _one_ticket(index: ThreadIndex, msg: ParsedMessage, own: str, number: str, ticket: TicketRef | None) -> Verdict | None:
    """The token's ticket must be the one the message is routed to, and the only one it
    names: a genuine token on Cc beside another ticket's address (or subject tag, or
    In-Reply-To) must not carry an answer to that other ticket."""
    named = tickets_named(msg, own)
    if len(named) > 1:
        return Verdict("held", f"names more than one ticket ({', '.join(named)}): answer each from its own notification")
    routed = index.numbers.get(number)
    if routed is None or ticket is None or routed.live() is not ticket:
        return Verdict("held", f"no ticket {number}")
    return None


def _authenticated(settings: Settings, msg: ParsedMessage, sender: str) -> Verdict:
    unproven = authres.unverified(msg, settings.consultants.trusted_authserv_ids, sender.rpartition("@")[2])
    if unproven:
        return Verdict("held", f"sender not authenticated: {'; '.join(unproven)}")
    return Verdict("consultant")


def foreign_sender(session: Session, ticket: TicketRef, reading: Reading) -> str | None:
    """Why a user's follow-up is not from the ticket's own user, or None when it is.

    Ticket numbers are sequential and the subject tag is public, so anyone can name any
    ticket. The ticket's user is the sender of its question and its return contacts (the
    e-mail addresses, or for a fax the fax numbers): exact addresses, not a whole domain,
    since free-mail domains are shared by strangers. A colleague from the same office is
    therefore flagged too; that costs only a look by a consultant, never the message.
    A ticket opened in the same batch (an import) has no stored user yet and is not judged."""
    if ticket.id is None:
        return None
    stored = session.get(Ticket, ticket.id)
    assert stored is not None
    if reading.channel == "fax":
        theirs = _number(reading.caller_id or "")
        mine = {_number(n) for n in stored.return_faxes}
    else:
        theirs = reading.message.sender.addr.lower() if reading.message.sender else ""
        asked = session.scalars(select(Message.from_addr).where(Message.ticket_id == ticket.id,
                                                                Message.kind == MessageKind.QUESTION))  # fmt: skip
        mine = {parseaddr(a)[1].lower() for a in asked} | {a.lower() for a in stored.return_emails}
    mine.discard("")
    if theirs and theirs in mine:
        return None
    return f"follow-up from {theirs or 'an unknown sender'}, not the ticket's user ({', '.join(sorted(mine)) or 'none known'})"


def _number(raw: str) -> str:
    return normalise_number(raw) or raw.strip()
