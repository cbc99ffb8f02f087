"""A ticket's life: its status and the times the contract measures it by (acked_at,
first_answer_at, closed_at). This is the only code that decides them; callers store the
changes it returns (the pipeline's ChangeSet, the outbox worker's transaction).

    new ──ack sent, or the user called back──▶ acknowledged
    any ──a consultant's answer──▶ answered          (first_answer_at: the first one)
    any ──#pending──▶ pending (waiting for the user)
    any ──#close──▶ closed (closed_at)
    answered / closed / pending ──the user writes again──▶ acknowledged (closed_at cleared)
    any ──its thread found in an older ticket──▶ closed (merged into it)

Pure: plain values in, plain values out, so each transition has a table test.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.kinds import TicketStatus

Changes = dict[str, Any]  # column -> new value


@dataclass(frozen=True, slots=True)
class Life:
    status: TicketStatus | str
    acked_at: datetime | None = None
    first_answer_at: datetime | None = None
    closed_at: datetime | None = None


def opened() -> Changes:
    return {"status": TicketStatus.NEW}


def acknowledged(life: Life, at: datetime) -> Changes:
    """The acknowledgement left, or a consultant called the user back (`#called`): the first
    time counts, and a new ticket is acknowledged (a later state is not undone)."""
    changes: Changes = {} if life.acked_at is not None else {"acked_at": at}
    if life.status == TicketStatus.NEW:
        changes["status"] = TicketStatus.ACKNOWLEDGED
    return changes


def answered(life: Life, at: datetime, status_commanded: bool = False) -> Changes:
    """A consultant's answer; `#close` or `#pending` in the same reply decide the status
    instead (`status_commanded`)."""
    changes: Changes = {} if status_commanded else {"status": TicketStatus.ANSWERED}
    if life.first_answer_at is None:
        changes["first_answer_at"] = at
    return changes


def waiting_for_user(life: Life) -> Changes:
    return {"status": TicketStatus.PENDING}


def closed(life: Life, at: datetime) -> Changes:
    return {"status": TicketStatus.CLOSED, "closed_at": at}


def reopened(life: Life) -> Changes:
    """The user wrote again: an answered, closed or waiting ticket needs a consultant again.
    It is `acknowledged`, not `pending`: pending means waiting for the user, and it pauses
    the SLA clocks (gateway/sla/clocks.py); a reopened ticket's clocks must run (a closed
    one's resolution clock starts a new cycle)."""
    if life.status not in (TicketStatus.ANSWERED, TicketStatus.CLOSED, TicketStatus.PENDING):
        return {}
    return {"status": TicketStatus.ACKNOWLEDGED, "closed_at": None}


def merged(life: Life) -> Changes:
    """Its thread lives on in an older ticket."""
    return {"status": TicketStatus.CLOSED}
