"""Our outgoing messages, built from the config and a ticket's facts, ready for the outbox.

gateway/outbound/compose.py writes the messages (templates, headers, PDF); this module decides
the parts the config owns: our envelope, the e-mail-to-fax gateway's address, who the
consultants are, and when a message may leave.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from gateway import tokens
from gateway.outbound import compose
from gateway.outbound import headers
from gateway.outbound.compose import AckFacts, Envelope, Notification, Reminder
from gateway.outbound.drafts import Composer, Draft, note_args
from gateway.outbound.outbox import Outgoing
from gateway.settings import Settings
from gateway.outbound.templates import Templates, templates
from parsers.mime import ParsedMessage
from parsers.phone import normalise_number
from parsers.refs import make_message_id
from storage.models import OutboxKind


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a forwarded answer belongs in the user's mail client."""

    subject: str  # the question's subject
    in_reply_to: str | None  # the user's latest message
    references: list[str]  # the user's messages and ours, oldest first


def daily_checkpoint(settings: Settings, checkpoint: str, size: int, day: str, now: datetime) -> Outgoing:
    """The day's checkpoint to `[register] checkpoint_to`, keyed by the day: queued once."""
    to = settings.register_.checkpoint_to
    message = compose.daily_checkpoint(envelope(settings, None, now), to, checkpoint, size, day, settings.templates.language)
    return Outgoing(OutboxKind.CHECKPOINT, "email", settings.outbound.address, tuple(to), message, f"checkpoint:{day}", now)


def envelope(settings: Settings, number: str | None, now: datetime) -> Envelope:
    """From, X-Loop and a fresh Message-ID naming the ticket: replies and bounces find it."""
    return Envelope(settings.outbound.from_, settings.loop_id, make_message_id(number, settings.own_domain), now)


def library(settings: Settings) -> Templates:
    """The configured templates (the shipped ones unless [templates] dir is set)."""
    return templates(settings.templates.dir)


def email_ack(settings: Settings, facts: AckFacts, to: str, original: ParsedMessage, now: datetime) -> Outgoing:
    """A reply to the user's own message, sent at once (rendered by the outbox worker);
    ValueError now for an address no message can be written to."""
    headers.parse_address(to)
    in_reply_to = None if original.message_id_synthesized else original.message_id
    references = [*original.references, *([in_reply_to] if in_reply_to else [])]
    draft = Draft(Composer.ACK_EMAIL, facts, envelope(settings, facts.number, now), (to,),
                  {"subject": original.subject, "in_reply_to": in_reply_to, "references": references})  # fmt: skip
    return _ack(settings, facts, draft, "email", to, now)


def fax_address(settings: Settings, number: str) -> str:
    """The e-mail-to-fax gateway's address for a fax number; ValueError for a number
    outside `[fax] allowed_prefixes` (a form or a forged gateway mail names any number)."""
    e164 = normalise_number(number)
    if e164 is not None and not settings.fax.may_fax(e164):
        raise ValueError(f"{e164} is not an allowed fax destination ([fax] allowed_prefixes)")
    return headers.fax_gateway_address(settings.fax.outbound_address, number)


def fax_ack(settings: Settings, facts: AckFacts, to: str, now: datetime) -> Outgoing:
    """A one-page PDF to the e-mail-to-fax gateway's address `to`; in working hours when
    so configured (a fax at night wakes nobody, and the deadline is a working day's end)."""
    draft = Draft(Composer.ACK_FAX, facts, envelope(settings, facts.number, now), (to,), {})
    not_before = now
    if settings.fax.send_in_working_hours:
        not_before = min(settings.work_calendar.next_working_start(now), facts.ack_due_at)
    return _ack(settings, facts, draft, "fax", to, not_before)


def callback_notice(settings: Settings, facts: AckFacts, phone: str, question: str, now: datetime) -> Outgoing | None:
    """The consultants are asked to confirm by phone before the deadline; None when no
    consultant address is configured (the task is still on the ticket as an event)."""
    return _for_consultants(settings, facts.number, f"callback:{facts.number}", now, lambda env, to: Draft(
        Composer.CALLBACK, facts, env, tuple(to), {"phone": phone, "question": question}))  # fmt: skip


def failure_notice(settings: Settings, number: str, outbox_id: int, to: str, error: str, now: datetime) -> Outgoing:
    message = compose.delivery_failed_notice(number, settings.templates.language, envelope(settings, number, now),
                                             settings.consultants.notify, to, error, library=library(settings))  # fmt: skip
    return _notice(settings, message, settings.consultants.notify, f"failed:{outbox_id}", now)


def _ack(settings: Settings, facts: AckFacts, message: Draft, channel: str, to: str,
         not_before: datetime) -> Outgoing:  # fmt: skip
    """One acknowledgement per ticket, whatever happens: the key says so."""
    return Outgoing(OutboxKind.ACK, channel, settings.outbound.address, (to,), message, f"ack:{facts.number}", not_before)


def _for_consultants(settings: Settings, number: str | None, key: str, now: datetime,
                     build: Callable[[Envelope, list[str]], EmailMessage | Draft]) -> Outgoing | None:  # fmt: skip
    """A notice to `[consultants] notify`; None when nobody is configured."""
    to = settings.consultants.notify
    return _notice(settings, build(envelope(settings, number, now), to), to, key, now) if to else None


def _notice(settings: Settings, message: EmailMessage | Draft, to: Sequence[str], key: str, now: datetime) -> Outgoing:
    return Outgoing(OutboxKind.NOTICE, "email", settings.outbound.address, tuple(to), message, key, now)


def notification(settings: Settings, secret: str, note: Notification, inbox_id: int, key: str,
                 now: datetime) -> Outgoing | None:  # fmt: skip
    """A new ticket or a user's follow-up (the message stored as `inbox_id`, whose files go
    along), to the consultants; its Reply-To is the ticket's token address, so pressing
    Reply routes the answer back. None without consultants."""
    reply_to = tokens.reply_address(settings.outbound.address, note.facts.number, secret)
    return _for_consultants(settings, note.facts.number, key, now, lambda env, to: Draft(
        Composer.NOTIFICATION, note.facts, env, tuple(to), {"note": note_args(note), "reply_to": reply_to}, inbox_id))  # fmt: skip


def email_answer(settings: Settings, facts: AckFacts, to: str, text: str, thread: Thread,
                 attachments: Sequence[tuple[str, str, bytes]], inbox_id: int, now: datetime) -> Outgoing:  # fmt: skip
    """A consultant's answer, threaded to the user's messages and our acknowledgement."""
    message = compose.answer_email(facts, envelope(settings, facts.number, now), to, text, thread.subject,
                                   thread.in_reply_to, thread.references, attachments, library=library(settings))  # fmt: skip
    return Outgoing(OutboxKind.ANSWER, "email", settings.outbound.address, (to,), message, f"answer:{inbox_id}", now)


def fax_answer(settings: Settings, facts: AckFacts, number: str, text: str, attachment_names: Sequence[str],
               inbox_id: int, now: datetime) -> Outgoing:  # fmt: skip
    """The answer as a PDF through the e-mail-to-fax gateway; attachments are listed."""
    to = fax_address(settings, number)
    message = compose.answer_fax(facts, envelope(settings, facts.number, now), to, text, attachment_names,
                                 library=library(settings))  # fmt: skip
    return Outgoing(OutboxKind.ANSWER, "fax", settings.outbound.address, (to,), message, f"answer:{inbox_id}", now)


def answer_callback(settings: Settings, facts: AckFacts, phone: str, text: str, inbox_id: int,
                    now: datetime) -> Outgoing | None:  # fmt: skip
    """The user wants answers by phone: the consultants are asked to call."""
    return _for_consultants(settings, facts.number, f"answer-callback:{inbox_id}", now, lambda env, to: compose.answer_callback_notice(
        facts, env, to, phone, text, language=settings.templates.language, library=library(settings)))  # fmt: skip


def command_error(settings: Settings, number: str, reply: ParsedMessage, problems: Sequence[str],
                  now: datetime) -> Outgoing | None:  # fmt: skip
    """Back to the consultant whose commands were wrong (nothing went to the user)."""
    if reply.sender is None or not reply.sender.addr:
        return None
    to = reply.sender.addr
    message = compose.command_error(envelope(settings, number, now), to, number, problems, reply.subject,
                                    None if reply.message_id_synthesized else reply.message_id,
                                    language=settings.templates.language, library=library(settings))  # fmt: skip
    return _notice(settings, message, [to], f"command-error:{reply.message_id}", now)


def held_notice(settings: Settings, number: str | None, held: ParsedMessage, reason: str, inbox_id: int,
                now: datetime) -> Outgoing | None:  # fmt: skip
    sender = held.sender.addr if held.sender and held.sender.addr else ""
    return _for_consultants(settings, number, f"held:{inbox_id}", now, lambda env, to: compose.held_notice(
        env, to, number, reason, sender, held.subject, language=settings.templates.language, library=library(settings)))  # fmt: skip


def sla_reminder(settings: Settings, reminder: Reminder, assignee: str | None, cycle: int,
                 now: datetime) -> Outgoing | None:  # fmt: skip
    """A reminder to the assignee, else the team; an escalation to `[sla] escalate_to` as
    well. Keyed by (ticket, clock, cycle, stage): queued once, whoever runs the job. None
    when nobody is configured to be told."""
    to = [assignee] if assignee else list(settings.consultants.notify)
    if reminder.escalation:
        to += [a for a in settings.sla.escalate_to if a not in to]
    if not to:
        return None
    number = reminder.facts.number
    secret = settings.reply_secret
    reply_to = tokens.reply_address(settings.outbound.address, number, secret) if secret else None
    message = compose.reminder(reminder, envelope(settings, number, now), to, reply_to,
                               language=settings.templates.language, library=library(settings))  # fmt: skip
    kind = OutboxKind.ESCALATION if reminder.escalation else OutboxKind.REMINDER
    key = f"sla:{number}:{reminder.clock}:{cycle}:{reminder.stage}"
    return Outgoing(kind, "email", settings.outbound.address, tuple(to), message, key, now)
