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

from parsers.mime import ParsedMessage

_NUMBER = re.compile(r"HOT-(\d{4})-(\d{6})", re.IGNORECASE)
# Tolerant: case, spaces inside the brackets and after '#', a '-' instead of '#'.
_SUBJECT_TAG = re.compile(r"\[\s*HOT\s*[#-]\s*(\d{4})\s*-\s*(\d{6})\s*\]", re.IGNORECASE)
_OWN_ID_LOCAL = re.compile(r"^(HOT-\d{4}-\d{6})\.[0-9a-f]+$", re.IGNORECASE)
_REPLY_ADDRESS = re.compile(r"\+(HOT-\d{4}-\d{6})\.[a-z2-7]+@", re.IGNORECASE)  # gateway/tokens.py
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to")
_ANONYMOUS_PREFIX = "hotline"


def ticket_number_in_text(text: str) -> str | None:
    """The first ticket number a text names ("HOT-2026-000123" or the subject tag): a fax
    that follows up has no headers to thread by, only what the user wrote on it."""
    match = _SUBJECT_TAG.search(text) or _NUMBER.search(text)
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
    match = _SUBJECT_TAG.search(subject or "")
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


def ticket_number_from_reply_address(msg: ParsedMessage) -> str | None:
    """The ticket of a per-ticket reply address (`hotline+HOT-2026-000123.token@...`)
    the message was sent to; whether its token is valid is the gateway's question."""
    for address in recipients(msg):
        if match := _REPLY_ADDRESS.search(address):
            return canonical_number(match.group(1))
    return None


def find_ticket_number(msg: ParsedMessage, domain: str) -> str | None:
    """The ticket a message belongs to: a reply address, the subject tag, then our ids in
    replies, then bounces.

    In-Reply-To names the message answered directly, so it wins over References;
    within References the newest (last) id wins. Embedded ids come from returned
    messages and delivery reports.
    """
    number = ticket_number_from_reply_address(msg) or ticket_number_from_subject(msg.subject)
    if number:
        return number
    for ids in (msg.in_reply_to, tuple(reversed(msg.references)), msg.embedded_message_ids):
        numbers = ticket_numbers_from_message_ids(ids, domain)
        if numbers:
            return numbers[0]
    return None
