"""The consultants hear of every new ticket and every follow-up of a user, with the
question, the user, the way back, the deadlines and the documents, and a Reply-To that
brings their answer back to the ticket (gateway/tokens.py)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

from gateway.knowledge import suggest
from gateway.outbound import outgoing
from gateway.outbound.facts import facts, facts_of
from gateway.pipeline import tickets
from gateway.pipeline.work import Context, Work
from gateway.outbound.compose import AckFacts, Notification
from storage.models import Ticket



def notify(ctx: Context, work: Work) -> Work:
    """Pipeline step after `acknowledge`."""
    outcome, ticket = work.outcome, work.ticket
    if outcome is None or ticket is None or ctx.secret is None or not ctx.settings.consultants.notify:
        return work
    reading, now = work.reading, work.entry.received_at
    if outcome.action == "created" and work.opened is not None:
        row = work.opened
        about = facts(ctx.settings, ticket.number, row)
        has_contact = bool(row["return_emails"] or row["return_faxes"] or row["return_phones"])
        review = [*tickets.review_reasons(reading, has_contact), *work.review]  # what acknowledge found too
        question = tickets.question_of(reading)
        note = replace(_note(about, "new", row, question, review, ticket.status, reading.channel,
                             tickets.format_address(reading.message)),
                       suggestions=_suggestions(ctx, work, f"{row['subject']}\n{question}"))  # fmt: skip
    elif outcome.action == "appended" and work.role == "user" and ticket.id is not None:
        stored = ctx.session.get(Ticket, ticket.id)
        assert stored is not None
        columns = {k: getattr(stored, k) for k in ("return_emails", "return_faxes", "return_phones")}
        foreign = [f"{work.foreign}: the ticket was not reopened"] if work.foreign else []
        note = _note(facts_of(ctx.settings, stored), "followup", columns, tickets.question_of(reading), foreign,
                     ticket.status, reading.channel, tickets.format_address(reading.message))  # fmt: skip
    else:
        return work
    out = outgoing.notification(ctx.settings, ctx.secret, note, work.entry.id, f"notify:{work.entry.id}", now)
    if out is not None:
        ctx.changes.outgoing.append((ticket, out))
    return work


def _suggestions(ctx: Context, work: Work, text: str) -> suggest.Suggestions:
    """The knowledge base's best sections and similar answered tickets (a read: the index
    is written outside routing); what was listed is kept, so "#doc 2" means what it showed."""
    assert work.ticket is not None
    found = suggest.suggest(ctx.session, text, ctx.settings.knowledge.min_score)
    if found:
        ctx.changes.event(work.ticket, "hotline", suggest.SUGGESTED, work.entry.received_at,
                          sections=[h.ref for h in found.sections], answers=[h.ref for h in found.answers],
                          scores=[h.score for h in (*found.sections, *found.answers)])  # fmt: skip
    return found


def _note(facts: AckFacts, kind: Literal["new", "followup"], contacts: Mapping[str, list[str]], text: str,
          review: list[str], status: str, channel: str, sender: str) -> Notification:  # fmt: skip
    shown = (*(f"e-mail: {a}" for a in contacts["return_emails"]), *(f"fax: {n}" for n in contacts["return_faxes"]),
             *(f"tel.: {n}" for n in contacts["return_phones"]))  # fmt: skip
    return Notification(facts=facts, kind=kind, channel=channel, sender=sender, contacts=tuple(shown), text=text,
                        review=tuple(review), status=status)  # fmt: skip
