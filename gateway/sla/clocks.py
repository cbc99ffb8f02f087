"""The three SLA clocks of a ticket, in working time of its plan's calendar.

Each clock starts at the effective receipt (in its own calendar: a 24x7 clock starts at
once), stops at its event (ack: the acknowledgement; response: the first answer;
resolution: the close), and pauses while the ticket waits for the user (`#pending`) until
the user writes again. A closed ticket that the user reopens starts a new resolution cycle
from the reopening, with the whole target again. A severity change recomputes the due times
from the same start, keeping the elapsed time. An unfinished clock ends when the ticket is
closed (closed without an answer: the response clock ends there).

Pure: the timeline is read from the ticket's events, so the clocks are a function of the
recorded history, the terms recorded at receipt and the instant asked about.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gateway.sla.plans import Terms
from gateway.worktime import WorkCalendar

Pause = tuple[datetime, datetime | None]  # [start, end); end None: still waiting for the user
BREACH = "breach"


class Clock(StrEnum):
    ACK = "ack"
    RESPONSE = "response"
    RESOLUTION = "resolution"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


@dataclass(frozen=True, slots=True)
class Timeline:
    """What the clocks count from, as the ticket's columns and events recorded it."""

    received_at: datetime
    acked_at: datetime | None = None
    first_answer_at: datetime | None = None
    closed_at: datetime | None = None
    first_closed_at: datetime | None = None  # ends ack and response even after a reopening
    pauses: tuple[Pause, ...] = ()
    cycle: int = 0  # resolution cycles begun by reopenings
    reopened_at: datetime | None = None


TIMELINE_EVENTS = ("pending", "followup", "reopened", "close")  # the kinds `timeline` reads; others it skips


def timeline(received_at: datetime, acked_at: datetime | None, first_answer_at: datetime | None,
             closed_at: datetime | None, events: Iterable[tuple[str, datetime, Mapping[str, Any]]]) -> Timeline:  # fmt: skip
    """Pauses and cycles from the ticket's events (kind, at, data), oldest first: `pending`
    pauses; the user's follow-up, a reopening or a close resumes; reopening a closed ticket
    begins a cycle."""
    pauses: list[Pause] = []
    paused_since: datetime | None = None
    cycle, reopened_at, first_closed = 0, None, None
    for kind, at, data in events:
        if kind == "pending" and paused_since is None:
            paused_since = at
        elif kind in ("followup", "reopened", "close") and paused_since is not None and not data.get("foreign_sender"):
            pauses.append((paused_since, at))
            paused_since = None
        if kind == "close" and first_closed is None:
            first_closed = at
        if kind == "reopened" and data.get("previous") == "closed":
            cycle, reopened_at = cycle + 1, at
    if paused_since is not None:
        pauses.append((paused_since, None))
    return Timeline(received_at, acked_at, first_answer_at, closed_at, first_closed or closed_at, tuple(pauses), cycle,
                    reopened_at)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClockResult:
    """A clock as `tickets show --json` and `hotline sla` give it."""

    clock: Clock
    cycle: int
    calendar: str
    started_at: datetime
    target_minutes: int
    due_at: datetime  # while paused: the due time if the user answered now
    done_at: datetime | None
    state: ClockState
    paused_minutes: int
    late_minutes: int
    left_minutes: int | None  # working time left while running

    def frozen(self) -> dict[str, Any]:
        """What the reply log keeps of a clock when its ticket closes: met or not, by how much."""
        return {"cycle": self.cycle, "due_at": self.due_at, "done_at": self.done_at, "state": self.state.value,
                "late_minutes": self.late_minutes}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Run:
    """One clock's cycle: where it starts, how much working time it has, and its pauses."""

    clock: Clock
    cycle: int
    calendar: WorkCalendar
    started_at: datetime
    target_minutes: float
    pauses: tuple[Pause, ...]
    done_at: datetime | None

    def reached(self, minutes: float) -> datetime | None:
        """When `minutes` of unpaused working time have passed since the start; None while
        a pause that began before then is still open."""
        cal, t, left = self.calendar, self.started_at, minutes
        for a, b in self.pauses:
            if b is not None and b <= t:
                continue
            a = max(a, t)
            candidate = cal.add_working_minutes(t, left)
            if candidate <= a:
                return candidate
            left -= cal.working_minutes_between(t, a)
            if b is None:
                return None
            t = b
        return cal.add_working_minutes(t, left)

    @property
    def due_at(self) -> datetime | None:
        return self.reached(self.target_minutes)

    def stage_instants(self, fractions: Sequence[float]) -> list[tuple[str, datetime | None]]:
        """Each reminder stage ("0.5", ...) and the breach, with the instant it comes due."""
        stages = [(stage_name(f), self.reached(f * self.target_minutes)) for f in fractions]
        return [*stages, (BREACH, self.due_at)]

    def resumed(self, now: datetime) -> Run:
        """The run as if the user answered now: an open pause ends at `now`."""
        return Run(self.clock, self.cycle, self.calendar, self.started_at, self.target_minutes,
                   tuple((a, b or max(now, a)) for a, b in self.pauses), self.done_at)  # fmt: skip

    def result(self, now: datetime) -> ClockResult:
        stop = self.done_at or now
        cal = self.calendar
        due = self.due_at
        shown_due = due or self.resumed(now).due_at
        assert shown_due is not None
        paused = sum(cal.working_minutes_between(max(a, self.started_at), min(b or stop, stop)) for a, b in self.pauses)
        late = cal.working_minutes_between(shown_due, stop)
        if self.done_at is not None:
            state = ClockState.MET if self.done_at <= shown_due else ClockState.BREACHED
        elif due is None:
            state = ClockState.PAUSED
        else:
            state = ClockState.BREACHED if now >= due else ClockState.RUNNING
        left = round(cal.working_minutes_between(now, due)) if state == ClockState.RUNNING and due else None
        return ClockResult(self.clock, self.cycle, cal.name, self.started_at, round(self.target_minutes), shown_due,
                           self.done_at, state, round(paused), round(late), left)  # fmt: skip


def stage_name(fraction: float) -> str:
    """0.5 -> "0.5": the X-Hotline-Stage value and part of the reminder's idempotency key."""
    return f"{fraction:g}"


def runs(terms: Terms, severity: int, line: Timeline, calendars: Mapping[str, WorkCalendar]) -> list[Run]:
    """The current cycle of each clock for a severity (the one in force now: a change
    recomputes from the same start)."""
    key = str(severity)
    cal = calendars.get(terms.calendars.get(key, "default")) or calendars["default"]
    start = cal.effective_receipt(line.received_at)
    out = []
    for clock in Clock:
        target = terms.targets[key].get(clock)
        # rule 3 (None): the end of the next working day, as working time from the start
        minutes = float(target) if target is not None else cal.working_minutes_between(start, cal.ack_deadline(line.received_at))
        begins, cycle = start, 0
        if clock == Clock.RESOLUTION and line.reopened_at is not None:
            begins, cycle = cal.effective_receipt(line.reopened_at), line.cycle
        done = _done(clock, line)
        pauses = tuple((a, b if b is not None or done is None else max(a, done)) for a, b in line.pauses
                       if b is None or b > begins)  # fmt: skip
        out.append(Run(clock, cycle, cal, begins, minutes, pauses, done))
    return out


def new_cycle_due(terms: Terms, severity: int, received_at: datetime, reopened_at: datetime,
                  calendars: Mapping[str, WorkCalendar]) -> datetime | None:  # fmt: skip
    """The resolution due time of the cycle a reopening begins (the whole target again, from
    the reopening): written into the `reopened` event, so the new deadline is explained."""
    line = Timeline(received_at, cycle=1, reopened_at=reopened_at)
    return next(r.due_at for r in runs(terms, severity, line, calendars) if r.clock == Clock.RESOLUTION)


def _done(clock: Clock, line: Timeline) -> datetime | None:
    if clock == Clock.ACK:
        return line.acked_at or line.first_closed_at
    if clock == Clock.RESPONSE:
        return line.first_answer_at or line.first_closed_at
    return line.closed_at


def explain(run: Run, result: ClockResult) -> str:
    """Why a due time is where it is: the calendar, its hours, the days off and pauses it skipped."""
    cal = run.calendar
    hours = f"{cal.start:%H:%M}-{'24:00' if cal.ends_at_midnight else f'{cal.end:%H:%M}'}"
    first, last = result.started_at.astimezone(cal.tz).date(), result.due_at.astimezone(cal.tz).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    off = [d.isoformat() for d in days if not cal.is_working_day(d) and d.weekday() in cal.weekdays]
    parts = [f"{result.target_minutes / 60:g}h of working time from {_local(result.started_at, cal)}",
             f"calendar {cal.name} ({hours} {cal.tz.key})"]  # fmt: skip
    if off:
        parts.append(f"holidays skipped: {', '.join(off)}")
    if result.paused_minutes:
        parts.append(f"paused {result.paused_minutes} working minutes waiting for the user")
    if result.cycle:
        parts.append(f"cycle {result.cycle + 1}, begun when the user reopened the ticket")
    return "; ".join(parts)


def _local(t: datetime, cal: WorkCalendar) -> str:
    return t.astimezone(cal.tz).strftime("%a %Y-%m-%d %H:%M")
