"""Step: which ticket a message belongs to: a ticket reference (our reply address, the
subject tag, our Message-IDs), a ticket number written on a fax, or References to
messages of a ticket (gateway/pipeline/threads.py); threads found to be one are merged."""
from __future__ import annotations

from dataclasses import replace

from gateway.pipeline import tickets
from gateway.pipeline.work import Context, Work, arrival_of
from parsers import autoreply


def find_thread(ctx: Context, work: Work) -> Work:
    named = ctx.index.named(work.reading.message, ctx.settings.outbound.address)
    if named is not None:
        return replace(work, ticket=named, via="ticket reference")
    on_fax = tickets.number_on_fax(work.reading)
    if on_fax is not None and on_fax in ctx.index.numbers:
        return replace(work, ticket=ctx.index.numbers[on_fax].live(), via="ticket number on the fax")
    linked = ctx.index.linked(work.reading.message)
    if not linked:
        return work
    target, others = linked[0], linked[1:]
    if others and work.verdict is not None and work.verdict.kind in (*autoreply.PERSON, "list"):
        tickets.merge(ctx.changes, target, others, arrival_of(work))
    return replace(work, ticket=target, via="References")
