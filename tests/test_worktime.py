"""Working-time calendar: SPEC rules 1-3, holidays, DST, 24-hour calendars, and properties."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.worktime import WorkCalendar

WAW = ZoneInfo("Europe/Warsaw")

PL = WorkCalendar.from_config("default", "Europe/Warsaw", "PL", ["08:00", "16:00"], [], [])
H24X5 = WorkCalendar.from_config("sev1-24x5", "Europe/Warsaw", "", ["00:00", "24:00"], [], [])
H24X7 = WorkCalendar.from_config("sev1-24x7", "Europe/Warsaw", "", ["00:00", "24:00"], [], [], weekdays=range(7))
ALL = [PL, H24X5, H24X7]


def waw(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=WAW)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


# ---- rule 1: working days ----

PL_HOLIDAYS_2026_2027 = [
    "2026-01-01", "2026-01-06", "2026-04-06", "2026-05-01", "2026-05-03", "2026-05-24",
    "2026-06-04", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-24", "2026-12-25",
    "2026-12-26",
    "2027-01-01", "2027-01-06", "2027-03-29", "2027-05-01", "2027-05-03", "2027-05-16",
    "2027-05-27", "2027-08-15", "2027-11-01", "2027-11-11", "2027-12-24", "2027-12-25",
    "2027-12-26",
]  # fmt: skip


@pytest.mark.parametrize("day", PL_HOLIDAYS_2026_2027)
def test_polish_public_holidays_are_not_working_days(day: str) -> None:
    assert not PL.is_working_day(date.fromisoformat(day))


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2030])
def test_installed_holidays_package_knows_polish_christmas_eve(year: int) -> None:
    # The law since 2025; gateway.worktime adds it itself only for older holidays packages.
    assert date(year, 12, 24) in holidays.country_holidays("PL", years=year)


def test_christmas_eve_was_a_working_day_before_2025() -> None:
    assert PL.is_working_day(date(2024, 12, 24))  # a Tuesday, before the law


@pytest.mark.parametrize(
    "day, working",
    [
        ("2026-03-02", True),  # Monday
        ("2026-03-06", True),  # Friday
        ("2026-03-07", False),  # Saturday
        ("2026-03-08", False),  # Sunday
        ("2026-04-07", True),  # Tuesday after Easter Monday
        ("2026-12-23", True),
        ("2026-12-28", True),
        ("2026-12-31", True),
        ("2027-01-04", True),
    ],
)
def test_ordinary_days(day: str, working: bool) -> None:
    assert PL.is_working_day(date.fromisoformat(day)) is working


def test_extra_days_off_and_extra_working_days() -> None:
    cal = WorkCalendar.from_config(
        "office", "Europe/Warsaw", "PL", ["08:00", "16:00"],
        extra_days_off=["2026-12-31", "2026-05-04"],
        extra_working_days=["2026-12-24", "2026-03-07"],
    )  # fmt: skip
    assert not cal.is_working_day(date(2026, 12, 31))  # an ordinary Thursday made free
    assert not cal.is_working_day(date(2026, 5, 4))  # the bridge Monday
    assert cal.is_working_day(date(2026, 12, 24))  # a holiday made working
    assert cal.is_working_day(date(2026, 3, 7))  # a Saturday made working
    assert cal.is_working_time(waw(2026, 3, 7, 10))
    assert cal.effective_receipt(waw(2026, 3, 6, 17)) == waw(2026, 3, 7, 8)


def test_no_country_means_no_public_holidays() -> None:
    cal = WorkCalendar.from_config("plain", "Europe/Warsaw", "", ["08:00", "16:00"], [], [])
    assert cal.is_working_day(date(2026, 12, 24))
    assert cal.is_working_day(date(2026, 11, 11))
    none_cal = WorkCalendar.from_config("plain", "Europe/Warsaw", None, ["08:00", "16:00"], [], [])
    assert none_cal.is_working_day(date(2026, 1, 1))


def test_toml_date_literals_are_accepted() -> None:
    cal = WorkCalendar.from_config("d", "Europe/Warsaw", "PL", ["08:00", "16:00"], [date(2026, 12, 31)], [])
    assert not cal.is_working_day(date(2026, 12, 31))


def test_weekday_names() -> None:
    cal = WorkCalendar.from_config("sat", "Europe/Warsaw", "", ["08:00", "16:00"], [], [], ["mon", "Saturday"])
    assert cal.weekdays == frozenset({0, 5})


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"timezone": "Europe/Warsawa"}, ["timezone", "Europe/Warsawa"]),
        ({"timezone": ""}, ["timezone"]),
        ({"country": "XX"}, ["country", "XX"]),
        ({"hours": ["8:00", "16:00"]}, ["hours", "8:00"]),
        ({"hours": ["08:00"]}, ["hours"]),
        ({"hours": ["16:00", "08:00"]}, ["hours", "after"]),
        ({"hours": ["08:00", "08:00"]}, ["hours", "after"]),
        ({"hours": ["24:00", "24:00"]}, ["hours", "24:00"]),
        ({"hours": ["08:00", "24:30"]}, ["hours", "24:30"]),
        ({"hours": ["08:60", "16:00"]}, ["hours", "08:60"]),
        ({"extra_days_off": ["2026-02-30"]}, ["extra_days_off", "2026-02-30"]),
        ({"extra_working_days": ["31.12.2026"]}, ["extra_working_days", "31.12.2026"]),
        ({"extra_days_off": [20261231]}, ["extra_days_off"]),
        ({"extra_days_off": ["2026-12-31"], "extra_working_days": ["2026-12-31"]}, ["2026-12-31", "both"]),
        ({"weekdays": [7]}, ["weekdays", "7"]),
        ({"weekdays": ["funday"]}, ["weekdays", "funday"]),
        ({"weekdays": []}, ["weekdays"]),
    ],
)
def test_config_errors_name_the_key(kwargs: dict[str, object], words: list[str]) -> None:
    args: dict[str, object] = {
        "name": "default", "timezone": "Europe/Warsaw", "country": "PL", "hours": ["08:00", "16:00"],
        "extra_days_off": [], "extra_working_days": [],
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        WorkCalendar.from_config(**args)  # type: ignore[arg-type]
    for word in words + ["default"]:
        assert word in str(info.value)


def test_24_00_is_stored_as_midnight_end() -> None:
    assert H24X7.start == time(0, 0) and H24X7.end == time(0, 0) and H24X7.ends_at_midnight
    assert not PL.ends_at_midnight


# ---- working time, rule 2 and rule 3 ----


@pytest.mark.parametrize(
    "t, inside",
    [
        (waw(2026, 3, 2, 7, 59, 59), False),
        (waw(2026, 3, 2, 8, 0, 0), True),
        (waw(2026, 3, 2, 15, 59, 59), True),
        (waw(2026, 3, 2, 16, 0, 0), False),
        (waw(2026, 3, 7, 10), False),  # Saturday
        (waw(2026, 4, 6, 10), False),  # Easter Monday
    ],
)
def test_working_hours_are_half_open(t: datetime, inside: bool) -> None:
    assert PL.is_working_time(t) is inside
    assert PL.is_working_time(t.astimezone(UTC)) is inside


RULES = [
    # received (Warsaw)          effective receipt           ack due
    (waw(2026, 3, 6, 16, 30), waw(2026, 3, 9, 8), waw(2026, 3, 10, 16)),  # Friday evening
    (waw(2026, 3, 9, 10), waw(2026, 3, 9, 10), waw(2026, 3, 10, 16)),  # Monday in hours
    (waw(2026, 3, 9, 6, 15), waw(2026, 3, 9, 8), waw(2026, 3, 10, 16)),  # before 08:00
    (waw(2026, 3, 9, 8, 0, 0), waw(2026, 3, 9, 8), waw(2026, 3, 10, 16)),
    (waw(2026, 3, 9, 15, 59, 59), waw(2026, 3, 9, 15, 59, 59), waw(2026, 3, 10, 16)),
    (waw(2026, 3, 9, 16, 0, 0), waw(2026, 3, 10, 8), waw(2026, 3, 11, 16)),
    (waw(2026, 3, 7, 12), waw(2026, 3, 9, 8), waw(2026, 3, 10, 16)),  # Saturday
    (waw(2026, 3, 8, 23, 59), waw(2026, 3, 9, 8), waw(2026, 3, 10, 16)),  # Sunday night
    # Holiday Friday: 2027-01-01 (New Year); Thursday evening -> Monday 4 Jan
    (waw(2026, 12, 31, 16, 30), waw(2027, 1, 4, 8), waw(2027, 1, 5, 16)),
    (waw(2027, 1, 1, 10), waw(2027, 1, 4, 8), waw(2027, 1, 5, 16)),
    # Holiday Friday: 2026-05-01, then Sunday 3 May; Thursday 30 Apr in hours -> ack Monday
    (waw(2026, 4, 30, 12), waw(2026, 4, 30, 12), waw(2026, 5, 4, 16)),
    (waw(2026, 4, 30, 17), waw(2026, 5, 4, 8), waw(2026, 5, 5, 16)),
    # Christmas 2026: 24 (Thu), 25 (Fri), 26 (Sat) off
    (waw(2026, 12, 23, 10), waw(2026, 12, 23, 10), waw(2026, 12, 28, 16)),
    (waw(2026, 12, 23, 16, 1), waw(2026, 12, 28, 8), waw(2026, 12, 29, 16)),
    (waw(2026, 12, 24, 9), waw(2026, 12, 28, 8), waw(2026, 12, 29, 16)),
    (waw(2026, 12, 27, 9), waw(2026, 12, 28, 8), waw(2026, 12, 29, 16)),
    (waw(2026, 12, 30, 15), waw(2026, 12, 30, 15), waw(2026, 12, 31, 16)),
    # Epiphany 2026-01-06 is a Tuesday
    (waw(2026, 1, 5, 9), waw(2026, 1, 5, 9), waw(2026, 1, 7, 16)),
    (waw(2026, 1, 2, 18), waw(2026, 1, 5, 8), waw(2026, 1, 7, 16)),
]


@pytest.mark.parametrize("received, effective, due", RULES)
def test_rules_2_and_3(received: datetime, effective: datetime, due: datetime) -> None:
    got_effective = PL.effective_receipt(received)
    got_due = PL.ack_deadline(received)
    assert got_effective == effective and got_effective.tzinfo is UTC
    assert got_due == due and got_due.tzinfo is UTC
    assert PL.effective_receipt(received.astimezone(UTC)) == effective


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 9, 10)
    for call in (
        lambda: PL.is_working_time(naive),
        lambda: PL.effective_receipt(naive),
        lambda: PL.ack_deadline(naive),
        lambda: PL.next_working_start(naive),
        lambda: PL.add_working_minutes(naive, 5),
        lambda: PL.working_minutes_between(naive, waw(2026, 3, 9, 11)),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PL.add_working_minutes(waw(2026, 3, 9, 10), -1)


# ---- adding and measuring working minutes ----


def test_add_working_minutes_examples() -> None:
    assert PL.add_working_minutes(waw(2026, 3, 9, 10), 30) == waw(2026, 3, 9, 10, 30)
    assert PL.add_working_minutes(waw(2026, 3, 9, 15), 60) == waw(2026, 3, 9, 16)  # exact fit: the end
    assert PL.add_working_minutes(waw(2026, 3, 9, 15), 61) == waw(2026, 3, 10, 8, 1)
    assert PL.add_working_minutes(waw(2026, 3, 6, 15), 120) == waw(2026, 3, 9, 9)  # over the weekend
    assert PL.add_working_minutes(waw(2026, 3, 7, 12), 0) == waw(2026, 3, 9, 8)  # 0 from non-working
    assert PL.add_working_minutes(waw(2026, 3, 9, 16), 0) == waw(2026, 3, 10, 8)
    assert PL.add_working_minutes(waw(2026, 3, 9, 10), 0) == waw(2026, 3, 9, 10)
    assert PL.add_working_minutes(waw(2026, 3, 9, 10), 1.5) == waw(2026, 3, 9, 10, 1, 30)
    # Three weeks of working time from Monday 08:00 over Easter Monday 2026-04-06
    assert PL.add_working_minutes(waw(2026, 3, 30, 8), 15 * 480) == waw(2026, 4, 20, 16)


def test_working_minutes_between_examples() -> None:
    assert PL.working_minutes_between(waw(2026, 3, 9, 10), waw(2026, 3, 9, 10, 30)) == 30
    assert PL.working_minutes_between(waw(2026, 3, 9, 10), waw(2026, 3, 9, 9)) == 0
    assert PL.working_minutes_between(waw(2026, 3, 7), waw(2026, 3, 8, 23)) == 0  # weekend
    assert PL.working_minutes_between(waw(2026, 12, 23, 15), waw(2026, 12, 28, 9)) == 120
    # A full year 2026: 253 working days in Poland: 261 weekdays minus 8 holidays on weekdays
    # (1 and 6 Jan, 6 Apr, 1 May, 4 Jun, 11 Nov, 24 and 25 Dec)
    assert PL.working_minutes_between(waw(2026, 1, 1), waw(2027, 1, 1)) == 253 * 480


def test_next_working_start() -> None:
    assert PL.next_working_start(waw(2026, 3, 9, 16)) == waw(2026, 3, 10, 8)
    assert PL.next_working_start(waw(2026, 3, 9, 12)) == waw(2026, 3, 9, 12)
    assert H24X5.next_working_start(waw(2026, 3, 7, 12)) == waw(2026, 3, 9, 0)
    assert H24X7.next_working_start(waw(2026, 3, 7, 12)) == waw(2026, 3, 7, 12)


# ---- DST ----


def test_spring_forward_weekend() -> None:
    friday = waw(2026, 3, 27, 16, 30)
    effective = PL.effective_receipt(friday)
    assert effective == waw(2026, 3, 30, 8) == utc(2026, 3, 30, 6)  # CEST, +02:00
    assert PL.effective_receipt(waw(2026, 3, 27, 7)) == utc(2026, 3, 27, 7)  # CET, +01:00
    assert PL.ack_deadline(friday) == utc(2026, 3, 31, 14)
    assert PL.working_minutes_between(waw(2026, 3, 27, 15), waw(2026, 3, 30, 9)) == 120
    assert PL.add_working_minutes(waw(2026, 3, 27, 15), 120) == utc(2026, 3, 30, 7)


def test_fall_back_weekend() -> None:
    friday = waw(2026, 10, 23, 16, 30)
    assert PL.effective_receipt(friday) == waw(2026, 10, 26, 8) == utc(2026, 10, 26, 7)  # CET
    assert PL.effective_receipt(waw(2026, 10, 23, 7)) == utc(2026, 10, 23, 6)  # CEST
    assert PL.working_minutes_between(waw(2026, 10, 23, 15), waw(2026, 10, 26, 9)) == 120
    assert PL.add_working_minutes(waw(2026, 10, 23, 15), 120) == utc(2026, 10, 26, 8)


def test_24x7_counts_real_minutes_on_dst_days() -> None:
    assert H24X7.working_minutes_between(waw(2026, 10, 25), waw(2026, 10, 26)) == 1500
    assert H24X7.working_minutes_between(waw(2026, 3, 29), waw(2026, 3, 30)) == 1380
    assert H24X7.add_working_minutes(waw(2026, 10, 25), 1500) == waw(2026, 10, 26)
    assert H24X7.add_working_minutes(waw(2026, 10, 25), 24 * 60) == waw(2026, 10, 25, 23)
    # 02:30 on 25 Oct 2026 happens twice: both instants are working time
    first = datetime(2026, 10, 25, 2, 30, tzinfo=WAW, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=WAW, fold=1)
    assert H24X7.working_minutes_between(first, second) == 60


def test_24x5_weekend_and_week() -> None:
    assert not H24X5.is_working_time(waw(2026, 3, 7, 12))
    assert H24X5.is_working_time(waw(2026, 3, 9, 0))
    assert H24X5.is_working_time(waw(2026, 3, 13, 23, 59, 59))
    assert not H24X5.is_working_time(waw(2026, 3, 14, 0))
    assert H24X5.is_working_day(date(2026, 12, 24))  # no country: no holidays
    # Friday 23:00 + 120 minutes -> Monday 01:00, over the spring-forward Sunday
    assert H24X5.add_working_minutes(waw(2026, 3, 27, 23), 120) == waw(2026, 3, 30, 1)
    assert H24X5.working_minutes_between(waw(2026, 3, 23), waw(2026, 3, 30)) == 5 * 1440
    # Rule 3 on a 24x5 calendar: received Saturday -> effective Monday 00:00 -> due Wednesday 00:00
    assert H24X5.effective_receipt(waw(2026, 3, 7, 12)) == waw(2026, 3, 9)
    assert H24X5.ack_deadline(waw(2026, 3, 7, 12)) == waw(2026, 3, 11)


# ---- properties ----

START = datetime(2025, 12, 1)
END = datetime(2028, 1, 31)
INTERESTING_TIMES = [
    time(0, 0), time(2, 30), time(7, 59, 59), time(8, 0), time(12, 0), time(15, 59, 59),
    time(16, 0), time(16, 0, 1), time(23, 59, 59),
]  # fmt: skip

arbitrary_instants = st.datetimes(START, END, timezones=st.just(UTC))
boundary_instants = st.builds(
    lambda d, t, fold: datetime.combine(d, t, tzinfo=WAW).replace(fold=fold),
    st.dates(START.date(), END.date()),
    st.sampled_from(INTERESTING_TIMES),
    st.integers(0, 1),
)
instants = st.one_of(arbitrary_instants, boundary_instants)
minutes = st.integers(0, 30_000)
calendars = pytest.mark.parametrize("cal", ALL, ids=lambda c: c.name)
PROPS = settings(max_examples=200, deadline=None)


def at_end_of_period(cal: WorkCalendar, u: datetime) -> bool:
    day = u.astimezone(cal.tz).date()
    periods = (cal.period(d) for d in (day - timedelta(days=1), day))  # 24:00 ends on the next day
    return any(p is not None and p[1] == u for p in periods)


@calendars
@PROPS
@given(t=instants, a=minutes, b=minutes)
def test_add_is_monotone(cal: WorkCalendar, t: datetime, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert cal.add_working_minutes(t, lo) <= cal.add_working_minutes(t, hi)


@calendars
@PROPS
@given(t=instants, a=minutes, b=minutes)
def test_add_is_additive(cal: WorkCalendar, t: datetime, a: int, b: int) -> None:
    once = cal.add_working_minutes(t, a + b)
    twice = cal.add_working_minutes(cal.add_working_minutes(t, a), b)
    if b > 0 or a == 0:
        assert twice == once
    else:  # b == 0 normalises an end-of-period result to the next working start
        assert twice == cal.next_working_start(once)


@calendars
@PROPS
@given(t=instants, m=st.integers(1, 30_000))
def test_add_lands_in_working_time_or_at_a_period_end(cal: WorkCalendar, t: datetime, m: int) -> None:
    u = cal.add_working_minutes(t, m)
    assert u.tzinfo is UTC
    assert cal.is_working_time(u) or at_end_of_period(cal, u)
    assert u > t


@calendars
@PROPS
@given(t=instants, m=minutes)
def test_between_inverts_add(cal: WorkCalendar, t: datetime, m: int) -> None:
    assert cal.working_minutes_between(t, cal.add_working_minutes(t, m)) == m


@calendars
@PROPS
@given(t=instants, m=st.floats(0, 10_000, allow_nan=False))
def test_between_inverts_add_for_fractional_minutes(cal: WorkCalendar, t: datetime, m: float) -> None:
    # datetimes carry microseconds: the round trip is exact to one microsecond
    assert abs(cal.working_minutes_between(t, cal.add_working_minutes(t, m)) - m) <= 1e-6 / 60 * 2


@calendars
@PROPS
@given(a=instants, b=instants, c=instants)
def test_between_is_additive_over_a_split(cal: WorkCalendar, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.working_minutes_between(a, c) == pytest.approx(
        cal.working_minutes_between(a, b) + cal.working_minutes_between(b, c), abs=1e-9
    )


@calendars
@PROPS
@given(t=instants)
def test_effective_receipt_is_idempotent_and_working(cal: WorkCalendar, t: datetime) -> None:
    e = cal.effective_receipt(t)
    assert e >= t
    assert cal.is_working_time(e)
    assert cal.effective_receipt(e) == e
    assert cal.working_minutes_between(t, e) == 0


@calendars
@PROPS
@given(t=instants)
def test_ack_deadline_after_effective_receipt(cal: WorkCalendar, t: datetime) -> None:
    e, due = cal.effective_receipt(t), cal.ack_deadline(t)
    assert due > e
    assert at_end_of_period(cal, due)
    assert cal.is_working_time(due - timedelta(microseconds=1))
    # the due day is the next working day after the effective receipt day
    receipt_day = e.astimezone(cal.tz).date()
    due_day = (due - timedelta(microseconds=1)).astimezone(cal.tz).date()
    assert due_day == cal.next_working_day(receipt_day)


@calendars
@PROPS
@given(t=instants)
def test_is_working_time_agrees_with_next_working_start(cal: WorkCalendar, t: datetime) -> None:
    assert cal.is_working_time(t) == (cal.next_working_start(t) == t)


# ---- guards ----


def test_christmas_eve_is_added_for_old_holidays_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    real = holidays.country_holidays

    def without_christmas_eve(country: str, years: int | None = None) -> dict[date, str]:
        return {d: n for d, n in real(country, years=years).items() if (d.month, d.day) != (12, 24)}

    monkeypatch.setattr(holidays, "country_holidays", without_christmas_eve)
    cal = WorkCalendar.from_config("old", "Europe/Warsaw", "PL", ["08:00", "16:00"], [], [])
    assert not cal.is_working_day(date(2026, 12, 24))
    assert cal.is_working_day(date(2024, 12, 24))


def test_a_calendar_that_runs_out_of_working_days_says_so() -> None:
    cal = WorkCalendar.from_config("once", "Europe/Warsaw", "", ["08:00", "16:00"], [], ["2026-03-07"], weekdays=[])
    assert cal.effective_receipt(waw(2026, 3, 1)) == waw(2026, 3, 7, 8)
    with pytest.raises(ValueError, match="no working day"):
        cal.effective_receipt(waw(2026, 3, 8))


def test_holidays_are_computed_once_per_year() -> None:
    cal = WorkCalendar.from_config("cache", "Europe/Warsaw", "PL", ["08:00", "16:00"], [], [])
    cal.working_minutes_between(waw(2026, 1, 1), waw(2027, 2, 1))
    assert cal.holidays_in(2026) is cal.holidays_in(2026)
    assert set(cal._holiday_cache) <= {2025, 2026, 2027}


def walked_minutes(cal: WorkCalendar, a: datetime, b: datetime) -> float:
    """Working minutes in [a, b) reckoned the slow way: each local day's period, one by one."""
    day, total = a.astimezone(cal.tz).date() - timedelta(days=1), timedelta(0)
    while day <= b.astimezone(cal.tz).date():
        if (p := cal.period(day)) is not None:
            total += max(timedelta(0), min(p[1], b) - max(p[0], a))
        day += timedelta(days=1)
    return total / timedelta(minutes=1)


@calendars
@PROPS
@given(a=instants, b=instants)
def test_indexed_periods_reckon_as_walking_the_days(cal: WorkCalendar, a: datetime, b: datetime) -> None:
    """The running totals over indexed periods (what makes a million clocks fast) give the
    day-by-day walk's result exactly, across DST changes, holidays and year ends."""
    a, b = sorted((a, b))
    worked = walked_minutes(cal, a, b)
    assert cal.working_minutes_between(a, b) == worked
    due = cal.add_working_minutes(a, worked)  # the first instant that much working time is done
    assert walked_minutes(cal, a, due) == worked and (due <= b or worked == 0)
