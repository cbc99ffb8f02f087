"""A consultant's reply (already screened: right address, valid token): the mail commands
at its top, the new text without quotes and signature, and the answer forwarded to the
user over the user's channel (SPEC.md rule 4). Also what happens to mail that is held.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select

from gateway import lifecycle
from gateway.knowledge import suggest
from gateway.outbound import outgoing
from gateway.outbound.facts import Way, facts_of, way_back
from gateway.pipeline import tickets
from gateway.outbound.outbox import Outgoing
from gateway.outbound.outgoing import Thread
from gateway.pipeline.tickets import Arrival
from gateway.pipeline.work import Action, Context, Work, arrival_of, decided
from parsers.commands import Commands, parse_commands
from parsers.reply import new_text
from storage.models import Message, MessageKind, Ticket



@dataclass(frozen=True, slots=True)
class Taken:
    """What became of the reply: the `hotline ingest` action and reason."""

    action: Action
    reason: str | None


def answer(ctx: Context, work: Work) -> Work:
    """Step: a consultant's reply is taken (the answer, the mail commands) or, when it only
    claims to be one, held; a user's message goes on to `route`."""
    if work.outcome is not None or work.role == "user":
        return work
    arrival = arrival_of(work)
    taken = take(ctx, work, arrival) if work.role == "consultant" else hold(ctx, work, arrival, work.held or "held")
    return decided(ctx, work, taken.action, work.ticket, taken.reason)


def take(ctx: Context, work: Work, arrival: Arrival) -> Taken:
    assert work.ticket is not None and work.ticket.id is not None
    stored = ctx.session.get(Ticket, work.ticket.id)
    assert stored is not None
    commands = parse_commands(new_text(arrival.parsed.text).new)
    text, unknown = _with_documentation(ctx, stored, commands)
    if commands.errors or unknown:
        return _refuse(ctx, work, arrival, stored, replace(commands, errors=(*commands.errors, *unknown)))
    _apply(ctx, work, arrival, stored, commands)
    names: list[str] = [c.name for c in commands.commands]
    if {"note", "called"} & set(names) or not text:  # after #called the text records the call
        kind = MessageKind.NOTE
        tickets.add_message(ctx.changes, work.ticket, arrival, kind, text_=text)
        ctx.changes.event(work.ticket, arrival.actor, "note" if text else "commands", arrival.received_at,
                          commands=names)  # fmt: skip
        return Taken("appended", "internal note" if text else f"commands: {', '.join(names)}")
    _answer(ctx, work, arrival, stored, text, names)
    return Taken("answered", None)


def _with_documentation(ctx: Context, stored: Ticket, commands: Commands) -> tuple[str, list[str]]:
    """The answer's text, with the "Dokumentacja:" block when #doc names sections (SPEC.md
    rule 5: it goes to the user and stays in the register); an error line per ref not found."""
    text = commands.text.strip()
    doc = next((c.argument for c in commands.commands if c.name == "doc" and c.argument), None)
    if doc is None or stored.id is None:
        return text, []
    hits, errors = suggest.resolve(ctx.session, stored.id, doc)
    if errors or not text:
        return text, errors
    return f"{text}\n\n{suggest.documentation_block(hits, stored.language)}", []


def _apply(ctx: Context, work: Work, arrival: Arrival, stored: Ticket, commands: Commands) -> None:
    """#severity, #assign, #close, #pending, #called: the ticket's columns, each with its event."""
    assert work.ticket is not None
    for command in commands.commands:
        if command.name == "severity":
            _severity(ctx, work, arrival, stored, int(command.argument or 4))
        elif command.name == "assign":
            ctx.changes.update(work.ticket, assignee=command.argument)
        elif command.name == "close":
            ctx.changes.update(work.ticket, **lifecycle.closed(_life(work, stored), arrival.received_at))
        elif command.name == "pending":
            ctx.changes.update(work.ticket, **lifecycle.waiting_for_user(_life(work, stored)))
        elif command.name == "called":  # the phone acknowledgement
            ctx.changes.update(work.ticket, **lifecycle.acknowledged(_life(work, stored), arrival.received_at))
        if command.name != "note":
            ctx.changes.event(work.ticket, _consultant(arrival), command.name, arrival.received_at,
                              argument=command.argument)  # fmt: skip


def _severity(ctx: Context, work: Work, arrival: Arrival, stored: Ticket, severity: int) -> None:
    """A new severity: the clocks keep their start and elapsed time, and get that severity's
    targets; the event says where the due times moved."""
    assert work.ticket is not None
    ctx.changes.update(work.ticket, severity=severity)
    runs = tickets.sla_runs(ctx.session, ctx.settings.work_calendars, stored, severity)
    if runs:
        now = arrival.received_at
        due = {r.clock.value: r.result(now).due_at.isoformat() for r in runs}
        ctx.changes.event(work.ticket, _consultant(arrival), "sla_recomputed", now, previous_severity=stored.severity,
                          severity=severity, due_at=due, reason="severity changed: same start, elapsed time kept")  # fmt: skip


def _answer(ctx: Context, work: Work, arrival: Arrival, stored: Ticket, text: str, names: list[str]) -> None:
    """Stored as the ticket's answer, forwarded, and the ticket answered (or closed, or
    waiting for the user, as the commands said)."""
    assert work.ticket is not None
    now = arrival.received_at
    way = way_back(stored.channel, stored.return_emails, stored.return_faxes, stored.return_phones)
    unsent = "an answer with no way back to the user"
    try:
        out = _forward(ctx, work, arrival, stored, text, way) if way is not None else None
    except ValueError as exc:  # a fax number outside [fax] allowed_prefixes, an address we cannot write to
        way, out, unsent = None, None, f"the answer was not sent: {exc}"
    to = [way.address] if way is not None else []
    tickets.add_message(ctx.changes, work.ticket, arrival, MessageKind.ANSWER, text_=text, to=to, sends=out,
                        outbound=True)  # fmt: skip
    commanded = bool({"close", "pending"} & set(names))
    ctx.changes.update(work.ticket, **lifecycle.answered(_life(work, stored), now, status_commanded=commanded))
    ctx.changes.event(work.ticket, _consultant(arrival), "answered", now, to=to, channel=way.channel if way else None)
    if way is None:  # kept on the ticket; a person must find a way to the user
        ctx.changes.update(work.ticket, needs_review=True)
        ctx.changes.event(work.ticket, "hotline", "needs_review", now, reasons=[unsent])


def _forward(ctx: Context, work: Work, arrival: Arrival, stored: Ticket, text: str,
             way: Way) -> Outgoing | None:  # fmt: skip
    """The user's way (SPEC.md rule 4): a threaded e-mail, a fax, or a call-back task
    (returned: the outgoing message that carries the answer, if any)."""
    assert work.ticket is not None
    facts = replace(facts_of(ctx.settings, stored), checkpoint=ctx.checkpoint)
    now, inbox_id = arrival.received_at, arrival.inbox_id
    files = [(a.filename, a.content_type, a.data) for a in arrival.parsed.attachments]
    if way.channel == "email":
        return outgoing.email_answer(ctx.settings, facts, way.address, text, _thread(ctx, stored), files, inbox_id, now)
    if way.channel == "fax":
        return outgoing.fax_answer(ctx.settings, facts, way.address, text, [f[0] for f in files], inbox_id, now)
    notice = outgoing.answer_callback(ctx.settings, facts, way.address, text, inbox_id, now)
    if notice is not None:
        ctx.changes.outgoing.append((work.ticket, notice))
    ctx.changes.event(work.ticket, "hotline", "callback_task", now, phone=way.address, answer=True)
    return None


def _refuse(ctx: Context, work: Work, arrival: Arrival, stored: Ticket, commands: Commands) -> Taken:
    """Wrong commands: the consultant is told, the user gets nothing."""
    assert work.ticket is not None
    tickets.add_message(ctx.changes, work.ticket, arrival, MessageKind.NOTE, text_=commands.text)
    ctx.changes.event(work.ticket, _consultant(arrival), "command_error", arrival.received_at, errors=list(commands.errors))
    reply = outgoing.command_error(ctx.settings, stored.number, arrival.parsed, list(commands.errors), arrival.received_at)
    if reply is not None:
        ctx.changes.outgoing.append((work.ticket, reply))
    return Taken("held", "mail commands: " + "; ".join(commands.errors) + " (nothing was sent to the user)")


def hold(ctx: Context, work: Work, arrival: Arrival, reason: str) -> Taken:
    """Kept, flagged, the consultants told; never forwarded."""
    if work.ticket is not None:
        tickets.add_message(ctx.changes, work.ticket, arrival, MessageKind.HELD)
    ctx.changes.event(work.ticket, arrival.actor, "held", arrival.received_at, reason=reason,
                      sender=tickets.format_address(arrival.parsed), inbox_id=arrival.inbox_id)  # fmt: skip
    number = work.ticket.number if work.ticket is not None else None
    notice = outgoing.held_notice(ctx.settings, number, arrival.parsed, reason, arrival.inbox_id, arrival.received_at)
    if notice is not None:
        ctx.changes.outgoing.append((work.ticket, notice))
    return Taken("held", reason)


def _life(work: Work, stored: Ticket) -> lifecycle.Life:
    """The ticket as this batch knows it: its status (changed by earlier messages or
    commands of the batch), its times as stored."""
    assert work.ticket is not None
    return lifecycle.Life(work.ticket.status, stored.acked_at, stored.first_answer_at, stored.closed_at)


def _thread(ctx: Context, stored: Ticket) -> Thread:
    rows = ctx.session.execute(
        select(Message.message_id, Message.direction, Message.kind, Message.subject)
        .where(Message.ticket_id == stored.id)
        .order_by(Message.at, Message.id)
    ).all()
    users = [r for r in rows if r.kind in (MessageKind.QUESTION, MessageKind.FOLLOWUP)]
    ours = {MessageKind.ACK, MessageKind.ANSWER}
    references = [r.message_id for r in rows if r in users or (r.direction == "out" and r.kind in ours)]
    subject = next((r.subject for r in users if r.kind == MessageKind.QUESTION), stored.subject)
    return Thread(subject, users[-1].message_id if users else None, references)


def _consultant(arrival: Arrival) -> str:
    sender = arrival.parsed.sender
    return sender.addr if sender is not None and sender.addr else arrival.actor
