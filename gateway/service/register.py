"""The daemon's daily checkpoint: the reply log's signed checkpoint mailed to the auditors
(`[register] checkpoint_to`), so a witness exists even on a day no user got an answer.

The outbox row is keyed by the day in the default calendar's time zone: the job may run
every hour, after downtime, on several daemons, and the auditors still get one a day.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.outbound import outbox, outgoing
from gateway.register import log
from gateway.register.checkpoint import Checkpoint, sign
from gateway.settings import Settings
from storage.db import transaction
from storage.models import OutboxEntry


def mail_checkpoint(factory: sessionmaker[Session], settings: Settings, now: datetime) -> bool:
    """Queue today's checkpoint unless it is queued already; True when this call queued it."""
    register = settings.register_
    if not register.checkpoint_to or not Path(register.key_file).exists():
        return False
    day = now.astimezone(ZoneInfo(settings.calendar.timezone)).date().isoformat()
    try:
        with transaction(factory) as session:
            if session.scalar(select(OutboxEntry.id).where(OutboxEntry.idempotency_key == f"checkpoint:{day}")):
                return False
            tree = log.head(session)
            text = sign(Checkpoint(register.origin, tree.size, tree.root()), settings.signing_key())
            outbox.queue(session, [(None, outgoing.daily_checkpoint(settings, text, tree.size, day, now), None)], now)
    except IntegrityError:  # another daemon queued it a moment ago
        return False
    return True
