"""The SLA job: reminders and escalations that come due, and the queue `hotline sla` shows.

The work is found by the index on `tickets.sla_next_at` (the next instant a ticket's clocks
reach a stage), never by scanning open tickets, and there is no cap on how many tickets a
run looks at: it takes them in batches until none is due. Each ticket is locked while it is
looked at (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises
writers), its stage is recorded in `sla_sent` and the reminder's outbox row is written in
the same transaction under a unique key (ticket, clock, cycle, stage): each reminder is
queued once, across restarts and several daemons.

After downtime only the most advanced stage that came due is sent per clock. A stage goes
out in its calendar's working time, or within GRACE of the instant it came due (a target
ending at 16:00 is escalated at 16:00, not the next morning); otherwise at the next working
start: a working-hours plan sends nothing on a Saturday.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.outbound import outbox, outgoing
from gateway.outbound.compose import Reminder
from gateway.outbound.facts import facts_of
from gateway.pipeline import tickets
from gateway.settings import Settings
from gateway.sla.clocks import BREACH, ClockResult, Run
from storage.db import transaction
from storage.models import Event, Ticket, TicketStatus

log = structlog.get_logger("hotline.sla")
GRACE = timedelta(minutes=15)
BATCH = 500


@dataclass(frozen=True, slots=True)
class Queued:
    """A reminder or escalation queued by this run."""

    ticket: str
    clock: str
    cycle: int
    stage: str
    to: tuple[str, ...]


def run_due(factory: sessionmaker[Session], settings: Settings, now: datetime) -> list[Queued]:
    """Every ticket whose next SLA instant has come, in batches of BATCH, each batch one
    transaction; returns what was queued."""
    queued: list[Queued] = []
    while True:
        with transaction(factory) as session:
            due = list(session.scalars(due_tickets(now).limit(BATCH).with_for_update(skip_locked=True)))
            for ticket in due:
                queued += look(session, settings, ticket, now)
        if len(due) < BATCH:
            return queued


def due_tickets(now: datetime):  # type: ignore[no-untyped-def]
    """The index-backed query of tickets the job must look at now."""
    return select(Ticket).where(Ticket.sla_next_at <= now).order_by(Ticket.sla_next_at)


def look(session: Session, settings: Settings, ticket: Ticket, now: datetime) -> list[Queued]:
    """Queue the most advanced stage that came due of each running clock, and set when to
    look again (NULL when no clock runs: closed, merged, or every clock paused)."""
    runs = [] if ticket.merged_into_id is not None else tickets.sla_runs(session, settings.work_calendars, ticket)
    sent: dict[str, list[object]] = dict(ticket.sla_sent or {})
    fractions = settings.sla.remind_at
    queued, next_at = [], None
    for run in runs:
        if run.done_at is not None:
            continue
        stages = run.stage_instants(fractions)
        last = _last_index(sent.get(run.clock), run.cycle, stages)
        came = [i for i, (_, at) in enumerate(stages) if at is not None and at <= now and i > last]
        if came and _sendable(run, stages[came[-1]][1], now):  # type: ignore[arg-type]
            last = came[-1]
            stage = stages[last][0]
            sent[run.clock] = [run.cycle, stage]
            queued += _queue(session, settings, ticket, run, stage, now)
        elif came:
            next_at = _earliest(next_at, run.calendar.next_working_start(now))
        upcoming = [at for i, (_, at) in enumerate(stages) if i > last and at is not None and at > now]
        if upcoming:
            next_at = _earliest(next_at, upcoming[0])
    ticket.sla_sent, ticket.sla_next_at = sent, next_at
    return queued


def _last_index(record: Sequence[object] | None, cycle: int, stages: list[tuple[str, datetime | None]]) -> int:
    """The stage already queued in this cycle (-1: none); a new cycle starts over."""
    if not record or record[0] != cycle:
        return -1
    names = [name for name, _ in stages]
    return names.index(str(record[1])) if record[1] in names else len(names) - 1


def _sendable(run: Run, came_at: datetime, now: datetime) -> bool:
    return run.calendar.is_working_time(now) or now - came_at <= GRACE


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _queue(session: Session, settings: Settings, ticket: Ticket, run: Run, stage: str, now: datetime) -> list[Queued]:
    result = run.result(now)
    reminder = Reminder(facts_of(settings, ticket), run.clock.value, stage, result.due_at,  # type: ignore[arg-type]
                        "" if stage == BREACH else working_time(result.left_minutes or 0),
                        working_time(result.late_minutes) if result.late_minutes else "",
                        tickets.question_text(session, ticket))  # fmt: skip
    out = outgoing.sla_reminder(settings, reminder, ticket.assignee, run.cycle, now)
    session.add(Event(ticket_id=ticket.id, at=now, actor="sla", kind="escalation" if stage == BREACH else "reminder",
                      data={"clock": run.clock.value, "cycle": run.cycle, "stage": stage,
                            "due_at": result.due_at.isoformat(), "to": list(out.to) if out else []}))  # fmt: skip
    if out is None:
        log.warning("SLA stage reached but nobody to tell", ticket=ticket.number, clock=run.clock.value, stage=stage)
        return []
    outbox.queue(session, [(ticket.id, out, None)], now)
    log.info("SLA stage queued", ticket=ticket.number, clock=run.clock.value, cycle=run.cycle, stage=stage)
    return [Queued(ticket.number, run.clock.value, run.cycle, stage, out.to)]


def working_time(minutes: int) -> str:
    """90 -> "1h 30m"."""
    hours, rest = divmod(max(0, minutes), 60)
    return " ".join(p for p in (f"{hours}h" if hours else "", f"{rest}m" if rest or not hours else "") if p)


@dataclass(frozen=True, slots=True)
class Queue:
    """An open ticket in queue order with its clocks."""

    ticket: Ticket
    clocks: list[tuple[Run, ClockResult]]


def queue_order(session: Session, settings: Settings, now: datetime) -> Iterator[Queue]:
    """Open tickets by severity, then plan rank (the order of [sla.plans]), then age."""
    rows = session.scalars(
        select(Ticket).where(Ticket.merged_into_id.is_(None), Ticket.status != TicketStatus.CLOSED)
    ).all()
    ranked = sorted(rows, key=lambda t: (t.severity, (t.sla_terms or {}).get("rank", 1 << 30), t.received_at, t.id))
    trails = tickets.timeline_events(session, [t.id for t in ranked])  # one query, not one per ticket
    for ticket in ranked:
        runs = tickets.sla_runs(session, settings.work_calendars, ticket, events=trails[ticket.id])
        yield Queue(ticket, [(r, r.result(now)) for r in runs])
