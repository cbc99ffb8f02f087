"""Step: a consultant's answer, a user's message, or a claim to be a consultant that is
held (gateway/pipeline/screening.py)."""
from __future__ import annotations

from dataclasses import replace

from gateway.pipeline import screening
from gateway.pipeline.work import Context, Work
from parsers import autoreply


def screen(ctx: Context, work: Work) -> Work:
    if work.verdict is None or work.verdict.kind not in autoreply.PERSON:
        return work
    verdict = screening.screen(ctx.settings, ctx.secret, ctx.index, work.reading.message, work.ticket)
    return replace(work, role=verdict.role, held=verdict.reason)
