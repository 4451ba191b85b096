"""SLA clocks in working hours: how long an institution has had a lead, and when its claim falls due.

Pure computation, no I/O.

- Working day: a date the `calendar` argument calls one. Callers pass `core.calendars.working_calendar`,
  the database's working calendar (the State Council's public holidays and make-up working days, 调休,
  loaded each year; provisional by the statutory rules until then), so no clock is computed on a
  calendar of its own.
- Working hours: 09:00-17:00 local time, contiguous, 8 hours a day. Banks' counters break for lunch,
  but an SLA counts the hours an officer can be expected to act on a lead, and one block keeps every
  deadline easy to state ("by 11:00 the next working day").
- Local time is Asia/Shanghai, taken as the fixed offset UTC+08:00. China has kept no daylight saving
  time since 1991, so this equals the zone for every date the platform sees, and arithmetic on a fixed
  offset cannot drift across a transition.

Inputs must be timezone-aware (any zone); results are UTC.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Protocol

LOCAL = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
DAY_START = dt.time(9, 0)
DAY_END = dt.time(17, 0)
HOURS_PER_DAY = 8.0

_ONE_DAY = dt.timedelta(days=1)
_ONE_HOUR = dt.timedelta(hours=1)


class Calendar(Protocol):
    """Which dates are working days (core.calendars.WorkCalendar)."""

    def is_working_day(self, day: dt.date, /) -> bool: ...


def next_working_moment(moment: dt.datetime, *, calendar: Calendar) -> dt.datetime:
    """`moment` itself in working time, else the next opening, in UTC. Raises ValueError if naive."""
    return _next_working_moment(_local(moment, "moment"), calendar).astimezone(dt.UTC)


def add_working_hours(start: dt.datetime, hours: float, *, calendar: Calendar) -> dt.datetime:
    """The moment `hours` working hours after `start`, in UTC.

    A start outside working time counts from the next opening. A deadline that uses up a day exactly
    lands on that day's 17:00, not the next opening. Raises ValueError for a naive `start`, or for
    `hours` negative or not finite.
    """
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be finite and not negative, got {hours!r}")
    remaining = dt.timedelta(hours=hours)
    current = _next_working_moment(_local(start, "start"), calendar)
    while True:
        available = _closing(current.date()) - current
        if remaining <= available:
            return (current + remaining).astimezone(dt.UTC)
        remaining -= available
        current = _opening(_next_working_day(current.date(), calendar))


def working_hours_between(start: dt.datetime, end: dt.datetime, *, calendar: Calendar) -> float:
    """Working hours from `start` to `end`; negative when `end` is before `start`.

    Raises ValueError if either is naive.
    """
    local_start = _local(start, "start")
    local_end = _local(end, "end")
    if local_end < local_start:
        return -working_hours_between(end, start, calendar=calendar)
    total = dt.timedelta(0)
    day = local_start.date()
    last = local_end.date()
    while day <= last:
        if calendar.is_working_day(day):
            low = max(local_start, _opening(day))
            high = min(local_end, _closing(day))
            if high > low:
                total += high - low
        day += _ONE_DAY
    return total / _ONE_HOUR


def _local(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(LOCAL)


def _opening(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, DAY_START, tzinfo=LOCAL)


def _closing(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, DAY_END, tzinfo=LOCAL)


def _next_working_day(day: dt.date, calendar: Calendar) -> dt.date:
    day += _ONE_DAY
    while not calendar.is_working_day(day):
        day += _ONE_DAY
    return day


def _next_working_moment(local: dt.datetime, calendar: Calendar) -> dt.datetime:
    day = local.date()
    if calendar.is_working_day(day):
        if local < _opening(day):
            return _opening(day)
        if local < _closing(day):
            return local
    return _opening(_next_working_day(day, calendar))
