"""The contract's first promise: every new question is confirmed by the next working day,
the way the user asked (SPEC.md rules 2 and 3), and no machine is ever answered.

`acknowledge` is the pipeline step after `route`: for a ticket just opened it picks the
way back (e-mail, fax or a call-back task), checks loop protection, and adds the
outgoing message to the batch's ChangeSet, so it is stored with the ticket or not at all.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from gateway.outbound import outgoing
from gateway.outbound.facts import facts, way_back
from gateway.pipeline.work import Context, Work
from gateway.settings import Settings
from parsers import autoreply
from parsers.refs import find_ticket_number

QUESTION_EXCERPT = 600  # characters of the question in a call-back notice


def refusal(settings: Settings, work: Work, now: datetime) -> str | None:
    """Why this message must get no acknowledgement at all (RFC 3834 and our own rules)."""
    verdict, reading = work.verdict, work.reading
    due = work.opened["ack_due_at"] if work.opened else None
    if due is not None and due < (work.routed_at or now):  # only `ingest --received-at` reaches back so far
        return f"imported: its acknowledgement was due {due.isoformat()}, before it reached us"
    if verdict is not None and verdict.kind not in autoreply.PERSON:
        return f"{verdict.kind}: {verdict.reason}"
    sender = reading.message.sender.addr.lower() if reading.message.sender else ""
    if sender and sender in {s.lower() for s in settings.fax.gateway_senders} and not reading.documents:
        return "a notice from the fax gateway itself (no document)"
    if sender == settings.outbound.address:
        return "our own address"
    return None


def doubt(settings: Settings, work: Work) -> str | None:
    """Why a person, not the daemon, should confirm receipt of this question: it may be a
    machine's after all, or it answers mail of ours (an auto-responder that strips its
    markers and answers our acknowledgement would otherwise be answered, and again)."""
    verdict = work.verdict
    if verdict is not None and verdict.kind == "suspect":
        return (f"looks automatic ({verdict.reason}) though nothing declares it: not acknowledged, "
                "confirm by hand if a person wrote it")
    named = find_ticket_number(work.reading.message, settings.outbound.address)
    if named is not None:
        return f"answers our mail about {named}, which it did not join: not acknowledged, to break a loop"
    return None


def acknowledge(ctx: Context, work: Work) -> Work:
    if work.outcome is None or work.outcome.action != "created" or work.ticket is None or work.opened is None:
        return work
    ticket, row, now = work.ticket, work.opened, datetime.now(timezone.utc)
    actor = work.entry.source
    reason = refusal(ctx.settings, work, now)
    doubtful = None if reason else doubt(ctx.settings, work)
    if doubtful is not None:
        return _by_hand(ctx, work, doubtful, now)
    way = None if reason else way_back(row["channel"], row["return_emails"], row["return_faxes"], row["return_phones"])
    if way is None:
        ctx.changes.event(ticket, actor, "ack_skipped", now, reason=reason or "no return contact")
        return work
    ack = replace(facts(ctx.settings, ticket.number, row), checkpoint=ctx.checkpoint)
    if way.channel == "phone":
        question = work.reading.form.question.value if work.reading.form else work.reading.message.text
        notice = outgoing.callback_notice(ctx.settings, ack, way.address, question[:QUESTION_EXCERPT], now)
        if notice is not None:
            ctx.changes.outgoing.append((ticket, notice))
        ctx.changes.event(ticket, actor, "callback_task", now, phone=way.address, due=ack.ack_due_at.isoformat())
        return work
    try:
        to = way.address if way.channel == "email" else outgoing.fax_address(ctx.settings, way.address)
        over = ctx.acks.refusal(to, way.channel, now)
        if over is not None:  # a loop, or a flood: a person confirms the ones that are real
            return _by_hand(ctx, work, over, now)
        out = (outgoing.email_ack(ctx.settings, ack, to, work.reading.message, now) if way.channel == "email"
               else outgoing.fax_ack(ctx.settings, ack, to, now))  # fmt: skip
    except ValueError as exc:  # an address we cannot write to: a person must confirm instead
        return _by_hand(ctx, work, f"no acknowledgement can be sent to {way.address!r}: {exc}", now)
    ctx.changes.outgoing.append((ticket, out))
    ctx.changes.event(ticket, actor, "ack_queued", now, channel=way.channel, to=to, not_before=out.not_before.isoformat())
    return work


def _by_hand(ctx: Context, work: Work, reason: str, now: datetime) -> Work:
    """The ticket stands; the acknowledgement is left to a consultant (needs_review)."""
    assert work.ticket is not None and work.opened is not None
    work.opened["needs_review"] = True  # the row is still waiting in this batch's ChangeSet
    ctx.changes.event(work.ticket, work.entry.source, "needs_review", now, reasons=[reason])
    ctx.changes.event(work.ticket, work.entry.source, "ack_skipped", now, reason=reason)
    return replace(work, review=(*work.review, reason))
