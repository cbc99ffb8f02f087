"""The auditors' register (SPEC rule 6): one row per ticket asked in a period, derived from
the database, with each SLA clock's result and the totals a service period is settled on.

Rows are streamed: tickets are read with `yield_per` (a server-side cursor on PostgreSQL),
and each partition's questions, answers and clock events come in three IN queries, so a
month of a million tickets never sits in memory and costs a few queries per thousand
tickets, not several per ticket. The writers (CSV, JSON, and the HTML page in html.py) write
each row as it comes and the totals at the end.
"""
from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal, TextIO

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from gateway.pipeline import tickets
from gateway.register import log
from gateway.settings import Settings
from gateway.sla.clocks import Clock, ClockResult, ClockState
from gateway.sla.plans import Terms
from gateway.worktime import WorkCalendar
from storage.db import among
from storage.models import LogEntry, Message, MessageKind, Ticket, TicketStatus, iso

Format = Literal["csv", "json", "html"]
Status = Literal["finished", "waiting"]
PARTITION = 1000  # tickets per fetch from the cursor, and per IN (...) of their messages and events
CLOCK_KEYS = ("due_at", "done_at", "met", "late_minutes", "late_started_hours")
ROW_KEYS = ("number", "channel", "received_at", "effective_received_at", "user_name", "office", "subject",
            "question", "answer", "answered_at", "status", "severity", "plan", "sla", "log_index")  # fmt: skip
CSV_HEADER = tuple(k for key in ROW_KEYS for k in ([f"sla_{c.value}_{x}" for c in Clock for x in CLOCK_KEYS]
                                                   if key == "sla" else [key]))  # fmt: skip
# a spreadsheet runs a cell that begins with one of these as a formula (CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ANSWER_SEPARATOR = "\n\n"


CLOCK_NAMES = tuple(c.value for c in Clock)
_NO_CLOCK = (None,) * len(CLOCK_KEYS)
_BOOL_CELL = {True: "true", False: "false"}  # as JSON writes them


def _text_cell(value: str | None) -> str | None:
    return "'" + value if value is not None and value.startswith(_FORMULA_START) else value


class PeriodError(ValueError):
    """--from after --to."""


@dataclass(frozen=True, slots=True)
class ClockCell:
    """One clock of one ticket: `met` is None while it still runs (or waits for the user)
    within its due time; `late_started_hours` is what contracts bill per started hour."""

    due_at: datetime
    done_at: datetime | None
    met: bool | None
    late_minutes: int

    @property
    def late_started_hours(self) -> int:
        return math.ceil(self.late_minutes / 60)

    def json(self) -> dict[str, Any]:
        return {"due_at": iso(self.due_at), "done_at": iso(self.done_at), "met": self.met,
                "late_minutes": self.late_minutes, "late_started_hours": self.late_started_hours}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Row:
    """A ticket as the register shows it (SPEC's row keys)."""

    number: str
    channel: str
    received_at: datetime
    effective_received_at: datetime | None
    user_name: str | None
    office: str | None
    subject: str
    question: str
    answer: str
    answered_at: datetime | None
    status: Status
    severity: int
    plan: str | None
    sla: Mapping[str, ClockCell]  # clock -> cell; empty for a ticket stored before plans were recorded
    log_index: int | None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {key: getattr(self, key) for key in ROW_KEYS}
        data.update({key: iso(data[key]) for key in ("received_at", "effective_received_at", "answered_at")})
        data["sla"] = {clock: cell.json() for clock, cell in self.sla.items()}
        return data

    def csv(self) -> list[str]:
        """The header's columns: SLA flattened, None empty, booleans as JSON writes them,
        text that a spreadsheet would run as a formula prefixed with an apostrophe. Built
        straight from the fields (not through json()): it runs a million times."""
        cells = [self.number, self.channel, iso(self.received_at), iso(self.effective_received_at),
                 *(_text_cell(v) for v in (self.user_name, self.office, self.subject, self.question, self.answer)),
                 iso(self.answered_at), self.status, self.severity, self.plan]  # fmt: skip
        for clock in CLOCK_NAMES:
            cell = self.sla.get(clock)
            cells += (_NO_CLOCK if cell is None else
                      (iso(cell.due_at), iso(cell.done_at), cell.met, cell.late_minutes, cell.late_started_hours))  # fmt: skip
        cells.append(self.log_index)
        return ["" if v is None else _BOOL_CELL[v] if v is True or v is False else str(v) for v in cells]


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates of the default calendar, both included, as the UTC instants [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime


def period(calendar: WorkCalendar, first: date, last: date) -> Period:
    """Midnight to midnight in the calendar's zone: a day is 23 or 25 hours across DST."""
    if first > last:
        raise PeriodError(f"--from {first} is after --to {last}")

    def midnight(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=calendar.tz).astimezone(timezone.utc)

    return Period(first, last, midnight(first), midnight(last + timedelta(days=1)))


def last_log_index(session: Session, ticket_ids: list[int]) -> dict[int, int]:
    """Ticket id -> the index of its last reply-log entry."""
    stmt = (select(LogEntry.ticket_id, func.max(LogEntry.index))
            .where(among(session, LogEntry.ticket_id, ticket_ids)).group_by(LogEntry.ticket_id))  # fmt: skip
    return {ticket_id: index for ticket_id, index in session.execute(stmt) if ticket_id is not None}


def current_checkpoint(session: Session, settings: Settings) -> str | None:
    """The signed checkpoint the export is made at (C2SP tlog-checkpoint text); None when
    no signing key is configured."""
    return log.witness(session, settings.register_.origin, settings.register_.key_file)


_COLUMNS = (Ticket.id, Ticket.number, Ticket.channel, Ticket.received_at, Ticket.effective_received_at,
            Ticket.user_name, Ticket.office, Ticket.subject, Ticket.first_answer_at, Ticket.status, Ticket.severity,
            Ticket.plan, Ticket.acked_at, Ticket.closed_at, cast(Ticket.sla_terms, Text).label("terms"))  # fmt: skip


def rows(session: Session, settings: Settings, span: Period, now: datetime) -> Iterator[Row]:
    """The period's tickets (merged ones are part of their target), oldest first: plain rows
    of the columns the register shows (no ORM objects), each plan's terms decoded once."""
    stmt = (
        select(*_COLUMNS)
        .where(Ticket.merged_into_id.is_(None), Ticket.received_at >= span.start, Ticket.received_at < span.end)
        .order_by(Ticket.received_at, Ticket.id)
        .execution_options(yield_per=PARTITION)
    )
    terms: dict[str | None, Terms | None] = {}
    for part in session.execute(stmt).partitions():
        yield from _partition(session, settings, part, now, terms)


def _partition(session: Session, settings: Settings, batch: Sequence[Any], now: datetime,
               terms: dict[str | None, Terms | None]) -> Iterator[Row]:  # fmt: skip
    ids = [t.id for t in batch]
    questions = dict(session.execute(select(Message.ticket_id, Message.text).where(
        among(session, Message.ticket_id, ids), Message.kind == MessageKind.QUESTION)).tuples().all())  # fmt: skip
    answers: dict[int, list[str]] = defaultdict(list)
    for ticket_id, text in session.execute(select(Message.ticket_id, Message.text).where(
            among(session, Message.ticket_id, ids), Message.kind == MessageKind.ANSWER).order_by(Message.id)).tuples():  # fmt: skip
        answers[ticket_id].append(text)
    events = tickets.timeline_events(session, ids)
    log_index = last_log_index(session, ids)
    for t in batch:
        if t.terms not in terms:
            recorded = json.loads(t.terms) if t.terms is not None else None
            terms[t.terms] = Terms.from_json(recorded) if recorded is not None else None
        plan = terms[t.terms]
        runs = tickets.runs_of(t, plan, events[t.id], settings.work_calendars) if plan is not None else []
        yield Row(t.number, t.channel, t.received_at, t.effective_received_at, t.user_name, t.office, t.subject,
                  questions.get(t.id) or "", ANSWER_SEPARATOR.join(answers[t.id]), t.first_answer_at,
                  "finished" if t.status == TicketStatus.CLOSED else "waiting", t.severity, t.plan,
                  {r.clock.value: _cell(r.result(now)) for r in runs}, log_index.get(t.id))  # fmt: skip


def _cell(result: ClockResult) -> ClockCell:
    """Met or breached once decided: done in time or late, or not done and past due."""
    met = {ClockState.MET: True, ClockState.BREACHED: False}.get(result.state)
    return ClockCell(result.due_at, result.done_at, met, result.late_minutes)


@dataclass
class Counts:
    """Asked, answered, closed and waiting tickets, and each clock met or breached."""

    asked: int = 0
    answered: int = 0
    closed: int = 0
    waiting: int = 0
    sla_met: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in Clock})
    sla_breached: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in Clock})

    def add(self, row: Row) -> None:
        self.asked += 1
        self.answered += row.answered_at is not None
        self.closed += row.status == "finished"
        self.waiting += row.status == "waiting"
        for clock, cell in row.sla.items():
            if cell.met is not None:
                (self.sla_met if cell.met else self.sla_breached)[clock] += 1

    def compliance(self, clock: str) -> float | None:
        """The share of decided clocks that were met (None: none decided yet)."""
        decided = self.sla_met[clock] + self.sla_breached[clock]
        return self.sla_met[clock] / decided if decided else None

    def json(self) -> dict[str, Any]:
        return {"asked": self.asked, "answered": self.answered, "closed": self.closed, "waiting": self.waiting,
                "sla_met": dict(self.sla_met), "sla_breached": dict(self.sla_breached)}  # fmt: skip


@dataclass
class Totals:
    """The period's counts, per office, per severity (the periodic review of the plans) and
    per ISO week of the local receipt date (the HTML chart)."""

    calendar: WorkCalendar
    all: Counts = field(default_factory=Counts)
    by_office: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_severity: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_week: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))

    def add(self, row: Row) -> None:
        year, week, _ = row.received_at.astimezone(self.calendar.tz).isocalendar()
        for counts in (self.all, self.by_office[row.office or ""], self.by_severity[str(row.severity)],
                       self.by_week[f"{year}-W{week:02d}"]):  # fmt: skip
            counts.add(row)

    def json(self) -> dict[str, Any]:
        return {**self.all.json(),
                "by_office": {k: v.json() for k, v in sorted(self.by_office.items())},
                "by_severity": {k: v.json() for k, v in sorted(self.by_severity.items())},
                "by_week": {k: v.json() for k, v in sorted(self.by_week.items())}}  # fmt: skip


def counted(items: Iterable[Row], totals: Totals) -> Iterator[Row]:
    """The rows as they pass, each added to the totals."""
    for row in items:
        totals.add(row)
        yield row


def write_csv(out: TextIO, items: Iterable[Row]) -> None:
    """UTF-8, a header of SPEC's row keys (SLA flattened as sla_<clock>_<key>), RFC 4180
    line ends; totals and checkpoint are in the JSON and HTML forms."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in items:
        writer.writerow(row.csv())


def write_json(out: TextIO, items: Iterable[Row], totals: Totals, checkpoint: str | None) -> None:
    """One object {"rows": [...], "totals": {...}, "checkpoint": ...}, a row per line."""
    out.write('{"rows": [')
    for i, row in enumerate(items):
        out.write(("\n" if i == 0 else ",\n") + json.dumps(row.json(), ensure_ascii=False))
    out.write('\n], "totals": ' + json.dumps(totals.json(), ensure_ascii=False))
    out.write(', "checkpoint": ' + json.dumps(checkpoint, ensure_ascii=False) + "}\n")
