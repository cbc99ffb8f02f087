"""Our outgoing messages, built from the config and a ticket's facts, ready for the outbox.

gateway/compose.py writes the messages (templates, headers, PDF); this module decides
the parts the config owns: our envelope, the e-mail-to-fax gateway's address, who the
consultants are, and when a message may leave.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage

from gateway import compose
from gateway.compose import AckFacts, Envelope
from gateway.outbox import Outgoing
from gateway.settings import Settings
from gateway.templates import Templates, templates
from parsers.mime import ParsedMessage
from parsers.refs import make_message_id
from storage.models import OutboxKind


def envelope(settings: Settings, number: str | None, now: datetime) -> Envelope:
    """From, X-Loop and a fresh Message-ID naming the ticket: replies and bounces find it."""
    return Envelope(settings.outbound.from_, settings.loop_id, make_message_id(number, settings.own_domain), now)


def library(settings: Settings) -> Templates:
    """The configured templates (the shipped ones unless [templates] dir is set)."""
    return templates(settings.templates.dir)


def email_ack(settings: Settings, facts: AckFacts, to: str, original: ParsedMessage, now: datetime) -> Outgoing:
    """A reply to the user's own message, sent at once."""
    in_reply_to = None if original.message_id_synthesized else original.message_id
    references = [*original.references, *([in_reply_to] if in_reply_to else [])]
    message = compose.ack_email(facts, envelope(settings, facts.number, now), to, original.subject, in_reply_to,
                                references, library=library(settings))  # fmt: skip
    return _ack(settings, facts, message, "email", to, now)


def fax_address(settings: Settings, number: str) -> str:
    """The e-mail-to-fax gateway's address for a fax number."""
    return compose.fax_gateway_address(settings.fax.outbound_address, number)


def fax_ack(settings: Settings, facts: AckFacts, to: str, now: datetime) -> Outgoing:
    """A one-page PDF to the e-mail-to-fax gateway's address `to`; in working hours when
    so configured (a fax at night wakes nobody, and the deadline is a working day's end)."""
    message = compose.ack_fax(facts, envelope(settings, facts.number, now), to, library=library(settings))
    not_before = now
    if settings.fax.send_in_working_hours:
        not_before = min(settings.work_calendar.next_working_start(now), facts.ack_due_at)
    return _ack(settings, facts, message, "fax", to, not_before)


def callback_notice(settings: Settings, facts: AckFacts, phone: str, question: str, now: datetime) -> Outgoing | None:
    """The consultants are asked to confirm by phone before the deadline; None when no
    consultant address is configured (the task is still on the ticket as an event)."""
    to = settings.consultants.notify
    if not to:
        return None
    message = compose.callback_notice(facts, envelope(settings, facts.number, now), to, phone, question,
                                      language=settings.templates.language, library=library(settings))  # fmt: skip
    return _notice(settings, message, to, f"callback:{facts.number}", now)


def failure_notice(settings: Settings, number: str, outbox_id: int, to: str, error: str, now: datetime) -> Outgoing:
    message = compose.delivery_failed_notice(number, settings.templates.language, envelope(settings, number, now),
                                             settings.consultants.notify, to, error, library=library(settings))  # fmt: skip
    return _notice(settings, message, settings.consultants.notify, f"failed:{outbox_id}", now)


def _ack(settings: Settings, facts: AckFacts, message: EmailMessage, channel: str, to: str,
         not_before: datetime) -> Outgoing:  # fmt: skip
    """One acknowledgement per ticket, whatever happens: the key says so."""
    return Outgoing(OutboxKind.ACK, channel, settings.outbound.address, (to,), message, f"ack:{facts.number}", not_before)


def _notice(settings: Settings, message: EmailMessage, to: Sequence[str], key: str, now: datetime) -> Outgoing:
    return Outgoing(OutboxKind.NOTICE, "email", settings.outbound.address, tuple(to), message, key, now)
