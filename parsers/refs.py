"""Ticket references: the subject tag, our own Message-IDs, and finding the ticket a mail is about.

Ticket numbers are ``HOT-2026-000123``; the subject carries ``[HOT#2026-000123]``; every
message we send has a Message-ID ``HOT-2026-000123.<random hex>@<our domain>``, so replies
(In-Reply-To/References) and bounces (the returned headers) lead back to the ticket even
when the user edited the subject.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.mime import ParsedMessage

_NUMBER = re.compile(r"HOT-(\d{4})-(\d{6})", re.IGNORECASE)
# Tolerant: case, spaces inside the brackets and after '#', a '-' instead of '#'.
SUBJECT_TAG = re.compile(r"\[\s*HOT\s*[#-]\s*(\d{4})\s*-\s*(\d{6})\s*\]", re.IGNORECASE)
_OWN_ID_LOCAL = re.compile(r"^(HOT-\d{4}-\d{6})\.[0-9a-f]+$", re.IGNORECASE)
# Anything shaped like a reply address (gateway/tokens.py), on any domain and with any token:
# only ours routes, but a look-alike still names a ticket (and so makes a reply ambiguous).
_REPLY_ADDRESS = re.compile(r"^(?P<base>[^+@\s]+)\+(?P<number>HOT-\d{4}-\d{6})\.(?P<token>[^@\s]+)@(?P<domain>[^@\s]+)$",
                            re.IGNORECASE | re.ASCII)  # fmt: skip
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to")
_ANONYMOUS_PREFIX = "hotline"


def ticket_number_in_text(text: str) -> str | None:
    """The first ticket number a text names ("HOT-2026-000123" or the subject tag): a fax
    that follows up has no headers to thread by, only what the user wrote on it."""
    match = SUBJECT_TAG.search(text) or _NUMBER.search(text)
    return f"HOT-{match.group(1)}-{match.group(2)}" if match else None


def canonical_number(number: str) -> str:
    """``hot-2026-000123`` -> ``HOT-2026-000123``; ValueError for anything else."""
    match = _NUMBER.fullmatch(number.strip())
    if match is None:
        raise ValueError(f"not a ticket number: {number!r}")
    return f"HOT-{match.group(1)}-{match.group(2)}"


def subject_tag(number: str) -> str:
    """``HOT-2026-000123`` -> ``[HOT#2026-000123]``."""
    canonical = canonical_number(number)
    return f"[HOT#{canonical[4:]}]"


def ticket_number_from_subject(subject: str) -> str | None:
    """The ticket number of the first subject tag, canonical, or None."""
    match = SUBJECT_TAG.search(subject or "")
    return f"HOT-{match.group(1)}-{match.group(2)}" if match else None


def make_message_id(number: str | None, domain: str) -> str:
    """A fresh Message-ID (no brackets) that names the ticket, so replies can be matched."""
    prefix = canonical_number(number) if number else _ANONYMOUS_PREFIX
    return f"{prefix}.{secrets.token_hex(8)}@{domain.strip().lower()}"


def ticket_numbers_from_message_ids(ids: Iterable[str], domain: str) -> list[str]:
    """Ticket numbers of our own Message-IDs among ``ids`` (only ids in our domain), in order."""
    ours = domain.strip().lower()
    found: dict[str, None] = {}
    for message_id in ids:
        local, _, id_domain = message_id.strip().strip("<>").rpartition("@")
        if id_domain.lower() != ours:
            continue
        match = _OWN_ID_LOCAL.match(local)
        if match:
            found.setdefault(canonical_number(match.group(1)), None)
    return list(found)


def recipients(msg: ParsedMessage) -> list[str]:
    """Every address the message was for: To, Cc and what the receiving MTA recorded."""
    named = [a.addr for a in (*msg.to, *msg.cc) if a.addr]
    return named + [v.strip().strip("<>") for k, v in msg.headers if k.lower() in _RECIPIENT_HEADERS]


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    """`base+HOT-2026-000123.token@domain`, ours or a look-alike; the token is unchecked."""

    number: str
    token: str
    base: str
    domain: str

    def ours(self, own: str) -> bool:
        """Sent to our own base address (the local part of `[outbound] from`) at our domain."""
        local, _, domain = own.lower().rpartition("@")
        return self.base.lower() == local and self.domain.lower() == domain


def reply_address(address: str) -> ReplyAddress | None:
    match = _REPLY_ADDRESS.match(address.strip())
    if match is None:
        return None
    return ReplyAddress(canonical_number(match["number"]), match["token"], match["base"], match["domain"])


def reply_addresses(msg: ParsedMessage) -> list[ReplyAddress]:
    """Every recipient shaped like a per-ticket reply address, ours or not, in order."""
    return [r for address in recipients(msg) if (r := reply_address(address)) is not None]


def tickets_named(msg: ParsedMessage, own: str) -> list[str]:
    """Every ticket the message itself names as the one it answers: reply addresses (look-alikes
    on other domains included), the subject tag, and our Message-ID it replies to directly.
    An honest reply names one; more is a reply to one ticket dressed up as another's."""
    found = [r.number for r in reply_addresses(msg)]
    found += [n for n in (ticket_number_from_subject(msg.subject),) if n]
    found += ticket_numbers_from_message_ids(msg.in_reply_to, own.rpartition("@")[2])
    return list(dict.fromkeys(found))


def find_ticket_number(msg: ParsedMessage, own: str) -> str | None:
    """The ticket a message belongs to: our own reply address (`own` is our address, the
    `[outbound] from`), the subject tag, then our ids in replies, then bounces.

    In-Reply-To names the message answered directly, so it wins over References;
    within References the newest (last) id wins. Embedded ids come from returned
    messages and delivery reports.
    """
    ours = next((r.number for r in reply_addresses(msg) if r.ours(own)), None)
    number = ours or ticket_number_from_subject(msg.subject)
    if number:
        return number
    for ids in (msg.in_reply_to, tuple(reversed(msg.references)), msg.embedded_message_ids):
        numbers = ticket_numbers_from_message_ids(ids, own.rpartition("@")[2])
        if numbers:
            return numbers[0]
    return None
