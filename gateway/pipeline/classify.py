"""Step: a person's message, or a machine's (auto-reply, bounce, list, our own mail)?
Decided by what machines declare (parsers/autoreply.py)."""
from __future__ import annotations

from dataclasses import replace

from gateway.pipeline.work import Context, Work
from parsers import autoreply


def classify(ctx: Context, work: Work) -> Work:
    return replace(work, verdict=autoreply.classify(work.reading.message, ctx.settings.loop_id))
