"""Working-time calendars: when a submission counts as received, when its acknowledgement is due,
and how much working time lies between two instants (SPEC business rules 1-3 and the SLA).

Pure: no I/O, no clock. Every instant in and out is an aware datetime; results are in UTC.

Conventions (callers rely on them):
- Working hours of a working day are the half-open interval [start, end) in local wall-clock
  time: 08:00:00 is working time, 15:59:59.999999 is, 16:00:00 is not.
- ``end`` may be midnight at the end of the day ("24:00" in the config). It is stored as
  ``time(0, 0)``: an end can never equal 00:00 at the start of the day, because end > start.
- Days are local wall-clock days. 08:00 local is 08:00 local on both sides of a DST change;
  each day's period is converted to UTC separately, so a 24-hour day of 23 or 25 real hours
  counts 1380 or 1500 working minutes.
- ``add_working_minutes`` with m > 0 that uses up the working time exactly at the end of a
  period returns that end instant (16:00), not the next day's start. With m == 0 it returns
  ``next_working_start(t)``. Hence add(add(t, a), b) == add(t, a + b) for every b > 0 and for
  a == 0; for b == 0 the left side is normalised to the next working start.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays.registry import COUNTRIES

MONDAY_TO_FRIDAY: frozenset[int] = frozenset(range(5))
MIDNIGHT = time(0, 0)  # as an end of working hours: 24:00, the end of the day
MAX_SEARCH_DAYS = 3660  # no calendar goes ten years without a working day; beyond: a config error
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_DAY_NAMES = {
    **{n: i for i, n in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{n: i for i, n in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
}
# Poland: 24 December is a public holiday from 2025 (Act of 6 Dec 2024). The installed holidays
# package knows it (tested), but pyproject allows versions older than that change: add it if missing.
_PL_CHRISTMAS_EVE_SINCE = 2025

Period = tuple[datetime, datetime]  # [start, end) in UTC
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
NO_TIME = timedelta(0)
MINUTE_US = 60_000_000


@dataclass(frozen=True, slots=True)
class PeriodIndex:
    """The working periods of whole local years [first, stop) as integer microseconds since
    the epoch, each with the working time of the indexed periods before it and up to its end.

    Working time between two instants is then a difference of two running totals found by
    bisection, and the instant a span of working time ends is one bisection of the totals:
    the register reckons a million tickets' clocks without walking a day. Integers keep the
    arithmetic exact (the same microseconds as timedelta sums). Immutable: a calendar swaps
    in a larger index when asked about a year it does not hold."""

    first: date
    stop: date
    lo: int  # the instants [lo, hi) are served: their local day and its neighbours are held
    hi: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    before: tuple[int, ...]  # working time of the periods before period i
    through: tuple[int, ...]  # ... and including period i

    @classmethod
    def of(cls, first: date, stop: date, lo: int, hi: int, periods: Iterable[tuple[int, int]]) -> PeriodIndex:
        starts, ends, before, through, total = [], [], [], [], 0
        for s, e in periods:
            starts.append(s)
            ends.append(e)
            before.append(total)
            total += e - s
            through.append(total)
        return cls(first, stop, lo, hi, tuple(starts), tuple(ends), tuple(before), tuple(through))

    def worked(self, x: int) -> int:
        """Working microseconds from the index's first period to instant x (within the index)."""
        i = bisect_right(self.starts, x) - 1
        return 0 if i < 0 else self.before[i] + min(x, self.ends[i]) - self.starts[i]

    def reaching(self, total: int) -> int | None:
        """The instant the running total reaches `total` (an exact fit: its period's end);
        None when it lies beyond the index."""
        i = bisect_left(self.through, total)
        return None if i == len(self.through) else self.starts[i] + total - self.before[i]

    def next_start(self, x: int) -> int | None:
        """The first working instant >= x; None when it lies beyond the index."""
        i = bisect_right(self.ends, x)
        return None if i == len(self.ends) else max(x, self.starts[i])


@dataclass(frozen=True)
class WorkCalendar:
    """A named working-time calendar: time zone, daily hours, working weekdays and days off."""

    name: str
    tz: ZoneInfo
    start: time = time(8, 0)
    end: time = time(16, 0)  # time(0, 0) means 24:00
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    country: str | None = "PL"
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    _holiday_cache: dict[int, frozenset[date]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _period_cache: dict[date, Period | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _index: list[PeriodIndex] = field(default_factory=list, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Reject calendars the arithmetic cannot serve, also when built without from_config."""
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(f"calendar {self.name!r}: hours must be local wall-clock times without a zone")
        if not self.ends_at_midnight and self.end <= self.start:
            raise ValueError(f"calendar {self.name!r}: hours: end {self.end:%H:%M} must be after start {self.start:%H:%M}")
        if not self.weekdays and not self.extra_working_days:
            raise ValueError(f"calendar {self.name!r}: weekdays: at least one working weekday is required")
        if bad := sorted(d for d in self.weekdays if not 0 <= d <= 6):
            raise ValueError(f"calendar {self.name!r}: weekdays: {bad} are not 0 (Monday) .. 6 (Sunday)")
        if both := sorted(self.extra_days_off & self.extra_working_days):
            days = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"calendar {self.name!r}: {days} in both extra_days_off and extra_working_days")

    # ---- construction from the TOML [calendar] section ----

    @classmethod
    def from_config(
        cls,
        name: str,
        timezone: str,
        country: str | None,
        hours: Iterable[str],
        extra_days_off: Iterable[str | date] = (),
        extra_working_days: Iterable[str | date] = (),
        weekdays: Iterable[int | str] | None = None,
    ) -> WorkCalendar:
        """Build a calendar from config values as TOML gives them; ValueError names the bad key."""
        start, end = _parse_hours(name, hours)
        return cls(
            name=name,
            tz=_parse_zone(name, timezone),
            start=start,
            end=end,
            weekdays=MONDAY_TO_FRIDAY if weekdays is None else _parse_weekdays(name, weekdays),
            country=_check_country(name, country),
            extra_days_off=_parse_dates(name, "extra_days_off", extra_days_off),
            extra_working_days=_parse_dates(name, "extra_working_days", extra_working_days),
        )

    # ---- days ----

    @property
    def ends_at_midnight(self) -> bool:
        """True for hours ending at 24:00 (stored as 00:00, which cannot be a real end)."""
        return self.end == MIDNIGHT

    def holidays_in(self, year: int) -> frozenset[date]:
        """Public holidays of one year, computed once per year: the holidays package is slow-ish."""
        cached = self._holiday_cache.get(year)
        if cached is None:
            cached = _public_holidays(self.country, year)
            self._holiday_cache[year] = cached
        return cached

    def is_working_day(self, d: date) -> bool:
        """Rule 1: working weekday, not a public holiday nor an extra day off; extra working days win."""
        if d in self.extra_working_days:
            return True
        if d in self.extra_days_off or d.weekday() not in self.weekdays:
            return False
        return d not in self.holidays_in(d.year)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after d."""
        for day in _days(d + timedelta(days=1)):
            if self.is_working_day(day):
                return day
        raise AssertionError("unreachable")  # pragma: no cover

    def period(self, d: date) -> Period | None:
        """Working hours of local day d as UTC instants [start, end), None on a non-working day;
        computed once per day (the register reckons a million clocks over the same days)."""
        if d not in self._period_cache:
            self._period_cache[d] = (self._local(d, self.start), self._day_end(d)) if self.is_working_day(d) else None
        return self._period_cache[d]

    # ---- instants ----

    def is_working_time(self, t: datetime) -> bool:
        """Whether t lies inside working hours of a working day ([start, end))."""
        u = _utc(t)
        return any(s <= u < e for s, e in self._periods_around(u))

    def next_working_start(self, t: datetime) -> datetime:
        """The first instant >= t that is working time (t itself if it is): when a fax may go out."""
        x = _us(t)
        found = self._index_of(x, x).next_start(x)
        while found is None:
            found = self._index_further().next_start(x)
        return t.astimezone(UTC) if found == x else _instant(found)

    def effective_receipt(self, t: datetime) -> datetime:
        """Rule 2: received in working time counts at t; otherwise at the next working start."""
        return self.next_working_start(t)

    def ack_deadline(self, t: datetime) -> datetime:
        """Rule 3: end of working hours on the next working day after the effective receipt day."""
        receipt_day = self.effective_receipt(t).astimezone(self.tz).date()
        period = self.period(self.next_working_day(receipt_day))
        assert period is not None  # a working day has working hours
        return period[1]

    def add_working_minutes(self, t: datetime, minutes: float) -> datetime:
        """The instant after `minutes` of working time from t; an exact fit returns the period's end."""
        remaining = timedelta(minutes=minutes)
        if remaining < NO_TIME:
            raise ValueError(f"minutes must not be negative: {minutes}")
        if not remaining:
            return self.next_working_start(t)
        x = _us(t)
        index = self._index_of(x, x)
        total = index.worked(x) + remaining // MICROSECOND
        found = index.reaching(total)
        while found is None:  # extending forward keeps the running totals of the years held
            found = self._index_further().reaching(total)
        return _instant(found)

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Working minutes in [a, b), real elapsed time (DST-aware); 0 when b <= a."""
        xa, xb = _us(a), _us(b)
        if xb <= xa:
            return 0.0
        index = self._index_of(xa, xb)
        return (index.worked(xb) - index.worked(xa)) / MINUTE_US

    # ---- internals ----

    def _local(self, d: date, wall: time) -> datetime:
        """Local wall-clock time on day d as UTC; zoneinfo resolves gaps and folds (fold=0)."""
        return datetime.combine(d, wall, tzinfo=self.tz).astimezone(UTC)

    def _day_end(self, d: date) -> datetime:
        """End of working hours on day d in UTC; 24:00 is the next day's local midnight."""
        if self.ends_at_midnight:
            return self._local(d + timedelta(days=1), MIDNIGHT)
        return self._local(d, self.end)

    def _periods_around(self, u: datetime) -> Iterator[Period]:
        """Periods of the local day of u and its neighbours: enough to contain u if any does."""
        day = u.astimezone(self.tz).date()
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            if (p := self.period(d)) is not None:
                yield p

    def _index_of(self, xa: int, xb: int) -> PeriodIndex:
        """The period index holding every working period that can begin by instant xb, from
        xa's year on (a local day's periods never end after the next local midnight)."""
        held = self._index[0] if self._index else None
        if held is not None and held.lo <= xa and xb < held.hi:
            return held
        first = _instant(xa).astimezone(self.tz).date() - timedelta(days=1)
        last = _instant(xb).astimezone(self.tz).date() + timedelta(days=1)
        lo, hi = date(first.year, 1, 1), date(last.year + 1, 1, 1)
        if held is not None:
            lo, hi = min(lo, held.first), max(hi, held.stop)
        return self._swap_index(lo, hi)

    def _index_further(self) -> PeriodIndex:
        """The index with one more year at its end; ValueError when it has held no working
        period for more than MAX_SEARCH_DAYS (a calendar that never works again)."""
        held = self._index[0]
        index = self._swap_index(held.first, date(held.stop.year + 1, 1, 1))
        last_work = _instant(index.ends[-1]).date() if index.ends else index.first
        if (index.stop - last_work).days > MAX_SEARCH_DAYS:
            raise ValueError(f"calendar {self.name!r}: no working day within {MAX_SEARCH_DAYS} days of {last_work}")
        return index

    def _swap_index(self, first: date, stop: date) -> PeriodIndex:
        periods = (p for p in map(self.period, _days_between(first, stop)) if p and p[0] < p[1])
        lo, hi = (_us(self._local(d, MIDNIGHT)) for d in (first + timedelta(days=2), stop - timedelta(days=2)))
        index = PeriodIndex.of(first, stop, lo, hi, ((_us(s), _us(e)) for s, e in periods))  # (one in a DST gap can be empty)
        self._index[:] = [index]
        return index


# ---- helpers: parsing config values, holidays, instants ----


def parse_working_time(value: str) -> int:
    """An amount of working time as the config writes it ("4h", "90m", "1h30m") in minutes;
    ValueError otherwise (zero is refused: a target of nothing is always breached)."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if m is None or not (m[1] or m[2]):
        raise ValueError(f'{value!r} is not working time such as "4h", "90m" or "1h30m"')
    minutes = int(m[1] or 0) * 60 + int(m[2] or 0)
    if minutes == 0:
        raise ValueError(f"{value!r}: working time must be more than zero")
    return minutes


def _days(first: date) -> Iterator[date]:
    """Consecutive days from first; the callers stop (a working day always comes, or they raise)."""
    d = first
    while True:
        yield d
        d += timedelta(days=1)


def _days_between(first: date, stop: date) -> Iterator[date]:
    """The days [first, stop)."""
    return (first + timedelta(days=i) for i in range((stop - first).days))


def _us(t: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (exact, unlike timestamp());
    naive datetimes are refused as in _utc (subtracting one from an aware one fails)."""
    try:
        return (t - EPOCH) // MICROSECOND
    except TypeError:
        return (_utc(t) - EPOCH) // MICROSECOND  # raises the naive-datetime ValueError


def _instant(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _utc(t: datetime) -> datetime:
    """t in UTC; naive datetimes are refused, their zone would be a guess."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: give an aware datetime (UTC or with a zone)")
    return t.astimezone(UTC)


def _public_holidays(country: str | None, year: int) -> frozenset[date]:
    """Public holidays of a country in one year, with the PL Christmas Eve fix for old packages."""
    if not country:
        return frozenset()
    days = set(holidays.country_holidays(country, years=year).keys())
    if country.upper() == "PL" and year >= _PL_CHRISTMAS_EVE_SINCE:
        days.add(date(year, 12, 24))
    return frozenset(days)


def _parse_zone(name: str, timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"calendar {name!r}: timezone: unknown time zone {timezone!r}") from exc


def _check_country(name: str, country: str | None) -> str | None:
    if not country:
        return None
    if country not in _known_countries():
        raise ValueError(f"calendar {name!r}: country: no public holidays known for {country!r}")
    return country


def _known_countries() -> frozenset[str]:
    """The codes `holidays.country_holidays` accepts (ISO alpha-2 and alpha-3), read from its
    registry: asking the function itself imports all 250 countries' modules (0.1 s), which a
    check of the config at each `hotline ingest -` should not pay."""
    return frozenset(code for names in COUNTRIES.values() for code in names[1:3])


def _parse_hours(name: str, hours: Iterable[str]) -> tuple[time, time]:
    """["08:00", "16:00"] -> (08:00, 16:00); "24:00" is allowed as the end only."""
    values = list(hours) if not isinstance(hours, str) else [hours]
    if len(values) != 2:
        raise ValueError(f'calendar {name!r}: hours: expected ["HH:MM", "HH:MM"], got {values!r}')
    start = _parse_hhmm(name, values[0], allow_24=False)
    end = _parse_hhmm(name, values[1], allow_24=True)
    if end != MIDNIGHT and end <= start:
        raise ValueError(f"calendar {name!r}: hours: end {values[1]} must be after start {values[0]}")
    return start, end


def _parse_hhmm(name: str, value: object, *, allow_24: bool) -> time:
    m = _HHMM.match(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"calendar {name!r}: hours: {value!r} is not HH:MM")
    hh, mm = int(m[1]), int(m[2])
    if allow_24 and (hh, mm) == (24, 0):
        return MIDNIGHT
    if hh > 23 or mm > 59:
        limit = "00:00-24:00" if allow_24 else "00:00-23:59"
        raise ValueError(f"calendar {name!r}: hours: {value!r} is not a time of day ({limit})")
    return time(hh, mm)


def _parse_dates(name: str, key: str, values: Iterable[str | date]) -> frozenset[date]:
    """ISO dates as strings (or TOML date literals, which tomllib gives as date objects)."""
    out: set[date] = set()
    for v in [values] if isinstance(values, str) else values:
        out.add(_parse_date(name, key, v))
    return frozenset(out)


def _parse_date(name: str, key: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    problem = f"calendar {name!r}: {key}: {value!r} is not an ISO date (YYYY-MM-DD)"
    if not isinstance(value, str):
        raise ValueError(problem)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(problem) from exc


def _parse_weekdays(name: str, values: Iterable[int | str]) -> frozenset[int]:
    """Weekdays as 0 (Monday) .. 6 (Sunday) or English names ("mon", "Monday")."""
    out: set[int] = set()
    for v in [values] if isinstance(values, str) else values:
        if isinstance(v, bool):
            n = None
        elif isinstance(v, int):
            n = v if 0 <= v <= 6 else None
        else:
            n = _DAY_NAMES.get(str(v).strip().lower())
        if n is None:
            raise ValueError(f"calendar {name!r}: weekdays: {v!r} is not 0 (Monday) .. 6 (Sunday) or a day name")
        out.add(n)
    return frozenset(out)  # empty: __post_init__ decides (allowed only with extra working days)
