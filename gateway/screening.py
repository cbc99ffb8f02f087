"""Who is writing: a user, a consultant answering, or someone who only claims to be one.

A consultant's answer is taken only from a configured consultant address, sent to the
ticket's reply address with a valid token (gateway/tokens.py), and, where our receiving
MTA vouches for the sender (trusted Authentication-Results), not failing DKIM or DMARC.
Anything else that claims to answer (a reply address, or a consultant's From on a
ticket's thread) is held for a person: it is never forwarded to a user.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway import tokens
from gateway.settings import Settings
from gateway.threads import ThreadIndex, TicketRef
from parsers import authres
from parsers.mime import ParsedMessage
from parsers.refs import recipients

Role = Literal["user", "consultant", "held"]


@dataclass(frozen=True, slots=True)
class Verdict:
    role: Role
    reason: str | None = None


USER = Verdict("user")


def screen(settings: Settings, secret: str | None, index: ThreadIndex, msg: ParsedMessage,
           ticket: TicketRef | None) -> Verdict:  # fmt: skip
    sender = msg.sender.addr.lower() if msg.sender and msg.sender.addr else ""
    claims = [c for a in recipients(msg) if (c := tokens.claimed(a, settings.outbound.address))]
    consultant = bool(sender) and settings.consultants.is_consultant(sender)
    if not claims:
        if consultant and ticket is not None:
            return Verdict("held", f"{sender} wrote on the thread without a reply token: answer with Reply to the notification")
        return USER  # anyone, consultants too, may ask a question of their own
    number, token = claims[0]
    if not consultant:
        return Verdict("held", f"sent to the reply address of {number} from {sender or 'no sender'}, not a consultant address")
    if secret is None or not tokens.valid(secret, number, token):
        return Verdict("held", f"wrong reply token for {number}")
    if number not in index.numbers or ticket is None:
        return Verdict("held", f"no ticket {number}")
    failed = authres.failures(msg, settings.consultants.trusted_authserv_ids, sender.rpartition("@")[2])
    if failed:
        return Verdict("held", f"sender authentication failed: {'; '.join(failed)}")
    return Verdict("consultant")
