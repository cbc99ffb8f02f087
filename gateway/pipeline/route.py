"""Step: a user's message opens a ticket or joins one; a machine's is recorded, never
answered. (Consultants' answers and held mail were decided by the answers step.)"""
from __future__ import annotations

from dataclasses import replace

from gateway.pipeline import screening, tickets
from gateway.sla import plans
from gateway.pipeline.work import Action, Context, Work, arrival_of, decided
from gateway.settings import Settings
from storage.models import MessageKind


def route(ctx: Context, work: Work) -> Work:
    if work.outcome is not None:
        return work
    assert work.verdict is not None
    arrival, kind = arrival_of(work), work.verdict.kind
    if kind in ("own", "autoreply", "bounce"):
        action: Action = "bounce" if kind == "bounce" else "autoreply"
        if kind == "bounce":  # one of ours came back: its delivery failed
            msg = work.reading.message
            ctx.changes.bounced.append((work.ticket, [*msg.embedded_message_ids, *msg.in_reply_to],
                                        f"bounced: {msg.subject}"[:500], arrival.received_at))  # fmt: skip
        if work.ticket is not None:
            msg_kind = MessageKind.BOUNCE if kind == "bounce" else MessageKind.AUTOREPLY
            tickets.add_message(ctx.changes, work.ticket, arrival, msg_kind)
            ctx.changes.event(work.ticket, arrival.actor, action, arrival.received_at, reason=work.verdict.reason)
        return decided(ctx, work, action, work.ticket, work.verdict.reason)
    if work.ticket is not None:
        foreign = screening.foreign_sender(ctx.session, work.ticket, work.reading)
        due = None if foreign else tickets.reopened_due(ctx.session, ctx.settings.work_calendars, work.ticket, arrival.received_at)
        tickets.append_followup(ctx.changes, work.ticket, arrival, foreign, due)
        reason = f"follow-up by {work.via}" + (f"; {foreign}: not reopened, flagged for review" if foreign else "")
        return replace(decided(ctx, work, "appended", work.ticket, reason), foreign=foreign)
    ticket, row = tickets.open_ticket(ctx.numbers, ctx.changes, arrival, terms(ctx.settings, work))
    return replace(decided(ctx, work, "created", ticket, None if kind == "normal" else work.verdict.reason), opened=row)


def terms(settings: Settings, work: Work) -> tickets.Terms:
    """The times the contract counts from (SPEC.md rules 2 and 3), the ticket's language, and
    its SLA plan with that plan's default severity."""
    received, calendar = work.entry.received_at, settings.work_calendar
    effective = calendar.effective_receipt(received)
    msg = work.reading.message
    addresses = [a.addr for a in (*msg.reply_to, *((msg.sender,) if msg.sender else ())) if a.addr]
    form = work.reading.form if work.reading.form is not None and work.reading.form.is_form else None
    office = form.office.value if form is not None and form.office is not None else None
    sla = plans.terms_for(settings.sla, [*addresses, *(form.return_emails if form else ())], office)
    return tickets.Terms(
        year=received.astimezone(calendar.tz).year,
        effective_received_at=effective,
        ack_due_at=calendar.ack_deadline(effective),
        language=settings.templates.language_for(addresses),
        sla=sla,
        severity=plans.default_severity(settings.sla, sla.plan),
    )
