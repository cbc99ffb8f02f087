"""The SLA clocks on the working-time calendar (gateway/sla/clocks.py): tables of known
answers and properties (hypothesis) for pauses, reopening, severity changes, DST weekends,
holidays, 24x5 and 24x7 calendars."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from gateway.sla.clocks import Clock, ClockState, runs, timeline
from gateway.sla.plans import Terms
from gateway.worktime import WorkCalendar

WAW = ZoneInfo("Europe/Warsaw")
DEFAULT = WorkCalendar("default", WAW)
H24X5 = WorkCalendar.from_config("24x5", "Europe/Warsaw", "PL", ["00:00", "24:00"])
H24X7 = WorkCalendar.from_config("24x7", "Europe/Warsaw", None, ["00:00", "24:00"], weekdays=range(7))
CALENDARS = {"default": DEFAULT, "24x5": H24X5, "24x7": H24X7}


def terms(calendar: str = "default", response: int = 240, resolution: int = 960) -> Terms:
    targets = {s: {"ack": None, "response": response // int(s) if s != "4" else response, "resolution": resolution}
               for s in "1234"}  # fmt: skip
    return Terms("standard", 0, {s: calendar for s in "1234"}, targets)


def local(text: str) -> datetime:
    """Warsaw wall-clock time, or UTC when it ends in Z (an hour a DST change repeats)."""
    if text.endswith("Z"):
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.fromisoformat(text).replace(tzinfo=WAW)


def clock(t: Terms, events: list[tuple[str, datetime, dict[str, object]]], received: datetime, which: Clock,
          severity: int = 4, **times: datetime | None) -> object:  # fmt: skip
    line = timeline(received, times.get("acked_at"), times.get("first_answer_at"), times.get("closed_at"), events)
    return next(r for r in runs(t, severity, line, CALENDARS) if r.clock == which)


@pytest.mark.parametrize(("received", "calendar", "which", "due"), [
    ("2027-01-11 08:00", "default", Clock.RESPONSE, "2027-01-11 12:00"),  # Monday, 4h
    ("2027-01-15 14:00", "default", Clock.RESPONSE, "2027-01-18 10:00"),  # Friday: 2h, then Monday
    ("2027-01-15 20:00", "default", Clock.RESPONSE, "2027-01-18 12:00"),  # after hours: from Monday 08:00
    ("2027-01-05 14:00", "default", Clock.RESPONSE, "2027-01-07 10:00"),  # 6 January (Epiphany) skipped
    ("2027-01-15 22:00", "24x5", Clock.RESPONSE, "2027-01-18 02:00"),  # 24x5: Friday 22-24, Monday 00-02
    ("2027-01-16 22:00", "24x7", Clock.RESPONSE, "2027-01-17 02:00"),  # 24x7: through Saturday night
    ("2027-03-27 23:00", "24x7", Clock.RESPONSE, "2027-03-28 04:00"),  # DST: 02:00-03:00 does not exist
    ("2027-10-30 23:00", "24x7", Clock.RESPONSE, "2027-10-31 01:00Z"),  # DST: 02:00-03:00 twice; 4 real hours
    ("2027-01-11 08:00", "default", Clock.ACK, "2027-01-12 16:00"),  # rule 3
    ("2027-01-11 08:00", "default", Clock.RESOLUTION, "2027-01-12 16:00"),  # 16h: two working days
])  # fmt: skip
def test_due_times(received: str, calendar: str, which: Clock, due: str) -> None:
    run = clock(terms(calendar), [], local(received), which)
    assert run.due_at == local(due).astimezone(UTC)  # type: ignore[attr-defined]


def test_pending_pauses_and_the_users_reply_resumes() -> None:
    received = local("2027-01-11 08:00")
    events = [("pending", local("2027-01-11 09:00"), {}), ("followup", local("2027-01-12 08:00"), {})]
    run = clock(terms(), events, received, Clock.RESOLUTION)
    result = run.result(local("2027-01-12 09:00"))  # type: ignore[attr-defined]
    assert result.paused_minutes == 7 * 60 and result.state == ClockState.RUNNING
    assert result.due_at == local("2027-01-13 15:00").astimezone(UTC)  # 16h + 7h paused


def test_while_paused_the_clock_says_paused_and_no_stage_comes_due() -> None:
    run = clock(terms(), [("pending", local("2027-01-11 09:00"), {})], local("2027-01-11 08:00"), Clock.RESOLUTION)
    assert run.result(local("2027-01-20 10:00")).state == ClockState.PAUSED  # type: ignore[attr-defined]
    assert all(at is None for stage, at in run.stage_instants([0.5, 0.8]))  # type: ignore[attr-defined]


def test_a_foreign_followup_does_not_resume() -> None:
    events = [("pending", local("2027-01-11 09:00"), {}), ("followup", local("2027-01-11 10:00"), {"foreign_sender": "x"})]
    run = clock(terms(), events, local("2027-01-11 08:00"), Clock.RESOLUTION)
    assert run.result(local("2027-01-11 11:00")).state == ClockState.PAUSED  # type: ignore[attr-defined]


def test_a_reopened_ticket_starts_a_new_resolution_cycle_with_its_whole_target() -> None:
    events = [("close", local("2027-01-11 10:00"), {}), ("reopened", local("2027-01-18 09:00"), {"previous": "closed"})]
    run = clock(terms(), events, local("2027-01-11 08:00"), Clock.RESOLUTION)
    result = run.result(local("2027-01-18 09:30"))  # type: ignore[attr-defined]
    assert (result.cycle, result.state) == (1, ClockState.RUNNING)
    assert result.due_at == local("2027-01-20 09:00").astimezone(UTC)  # 16h from Monday 09:00: 7 + 8 + 1
    response = clock(terms(), events, local("2027-01-11 08:00"), Clock.RESPONSE).result(local("2027-01-18 09:30"))  # type: ignore[attr-defined]
    assert response.state == ClockState.MET  # closed in time: the first cycle's result stays


def test_a_severity_change_keeps_the_start_and_the_elapsed_time() -> None:
    received = local("2027-01-11 08:00")
    four = clock(terms(), [], received, Clock.RESPONSE, severity=4)
    one = clock(terms(), [], received, Clock.RESPONSE, severity=1)
    assert four.started_at == one.started_at  # type: ignore[attr-defined]
    assert one.due_at == local("2027-01-11 12:00").astimezone(UTC)  # type: ignore[attr-defined]  # 240 // 1
    assert four.due_at == local("2027-01-11 12:00").astimezone(UTC)  # type: ignore[attr-defined]
    two = clock(terms(), [], received, Clock.RESPONSE, severity=2)
    assert two.due_at == local("2027-01-11 10:00").astimezone(UTC)  # type: ignore[attr-defined]  # 120 min


def test_closure_freezes_met_and_breached_with_late_minutes() -> None:
    received = local("2027-01-11 08:00")
    late = clock(terms(), [], received, Clock.RESPONSE, first_answer_at=local("2027-01-11 13:30")).result(local("2027-02-01 10:00"))  # type: ignore[attr-defined]
    assert (late.state, late.late_minutes) == (ClockState.BREACHED, 90)
    met = clock(terms(), [], received, Clock.RESPONSE, first_answer_at=local("2027-01-11 11:00")).result(local("2027-02-01 10:00"))  # type: ignore[attr-defined]
    assert (met.state, met.late_minutes) == (ClockState.MET, 0)


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(received=instants, calendar=st.sampled_from(["default", "24x5", "24x7"]),
       minutes=st.integers(min_value=1, max_value=5000), pause_at=st.integers(0, 5000), pause_for=st.integers(0, 20_000))  # fmt: skip
def test_a_due_time_never_falls_outside_its_calendar_and_pauses_only_push_it_later(
    received: datetime, calendar: str, minutes: int, pause_at: int, pause_for: int
) -> None:
    cal = CALENDARS[calendar]
    t = terms(calendar, response=minutes)
    plain = clock(t, [], received, Clock.RESPONSE)
    due = plain.due_at  # type: ignore[attr-defined]
    assert cal.is_working_time(due - timedelta(microseconds=1))  # the last working instant before it counts
    assert cal.working_minutes_between(plain.started_at, due) == pytest.approx(minutes)  # type: ignore[attr-defined]
    start = received + timedelta(minutes=pause_at)
    events = [("pending", start, {}), ("followup", start + timedelta(minutes=pause_for), {})]
    paused = clock(t, events, received, Clock.RESPONSE)
    assert paused.due_at >= due  # type: ignore[attr-defined, operator]
    assert cal.is_working_time(paused.due_at - timedelta(microseconds=1))  # type: ignore[attr-defined, operator]
    for stage, at in paused.stage_instants([0.5, 0.8]):  # type: ignore[attr-defined]
        assert at is not None and at <= paused.due_at  # type: ignore[attr-defined]
