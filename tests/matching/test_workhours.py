from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendars import FIRST_YEAR, builtin_calendar
from matching import workhours

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
LAST_YEAR_WITH_DATA = max(chinese_calendar.holidays).year
# The packages' calendar, as the database holds it before an admin loads anything.
CALENDAR = builtin_calendar(range(FIRST_YEAR, LAST_YEAR_WITH_DATA + 4))


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    return workhours.add_working_hours(start, hours, calendar=CALENDAR)


def working_hours_between(start: dt.datetime, end: dt.datetime) -> float:
    return workhours.working_hours_between(start, end, calendar=CALENDAR)


def next_working_moment(moment: dt.datetime) -> dt.datetime:
    return workhours.next_working_moment(moment, calendar=CALENDAR)


def is_working_day(day: dt.date) -> bool:
    return CALENDAR.is_working_day(day)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def first_workday_after(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day += dt.timedelta(days=1)
    return day


def make_up_saturdays() -> list[dt.date]:
    return sorted(d for d in chinese_calendar.workdays if d.year in (2025, 2026) and d.weekday() == 5)


def test_friday_afternoon_plus_two_hours_is_monday_ten() -> None:
    friday, monday = dt.date(2025, 3, 14), dt.date(2025, 3, 17)
    assert chinese_calendar.is_workday(friday) and chinese_calendar.is_workday(monday)
    assert not chinese_calendar.is_workday(dt.date(2025, 3, 15))
    assert not chinese_calendar.is_workday(dt.date(2025, 3, 16))
    due = add_working_hours(local(2025, 3, 14, 16), 2)
    assert due == local(2025, 3, 17, 10)
    assert due.tzinfo == dt.UTC
    assert working_hours_between(local(2025, 3, 14, 16), due) == pytest.approx(2)


def test_national_day_start_rolls_past_the_holiday() -> None:
    expected = first_workday_after(dt.date(2026, 10, 1))
    # The calendar's data must make this more than a weekday roll-over for the test to mean anything.
    assert expected - dt.date(2026, 10, 1) > dt.timedelta(days=3)
    due = add_working_hours(local(2026, 10, 1, 10), 1)
    assert due == dt.datetime.combine(expected, dt.time(10), tzinfo=SHANGHAI)
    assert next_working_moment(local(2026, 10, 3, 12)) == dt.datetime.combine(
        expected, dt.time(9), tzinfo=SHANGHAI
    )
    assert working_hours_between(local(2026, 9, 30, 17), local(2026, 10, 7, 23)) == 0


@pytest.mark.parametrize("saturday", make_up_saturdays())
def test_make_up_saturdays_count(saturday: dt.date) -> None:
    assert is_working_day(saturday)
    opening = dt.datetime.combine(saturday, dt.time(9), tzinfo=SHANGHAI)
    assert add_working_hours(opening - dt.timedelta(hours=1), 1) == opening + dt.timedelta(hours=1)
    assert working_hours_between(opening, opening + dt.timedelta(days=1)) == 8


def test_there_are_make_up_saturdays_to_test() -> None:
    assert len(make_up_saturdays()) >= 2


def test_ordinary_weekend_does_not_count() -> None:
    saturday = dt.date(2025, 3, 15)
    assert saturday not in chinese_calendar.workdays
    assert not is_working_day(saturday)
    assert working_hours_between(local(2025, 3, 15), local(2025, 3, 17)) == 0


def test_working_day_bounds() -> None:
    assert add_working_hours(local(2025, 3, 13, 7), 0) == local(2025, 3, 13, 9)
    assert add_working_hours(local(2025, 3, 13, 9), 8) == local(2025, 3, 13, 17)
    assert add_working_hours(local(2025, 3, 13, 17), 0) == local(2025, 3, 14, 9)
    assert add_working_hours(local(2025, 3, 13, 12, 30), 4.5) == local(2025, 3, 13, 17)
    assert add_working_hours(local(2025, 3, 13, 12, 30), 5) == local(2025, 3, 14, 9, 30)
    assert working_hours_between(local(2025, 3, 13, 6), local(2025, 3, 13, 23)) == 8
    assert working_hours_between(local(2025, 3, 13, 10), local(2025, 3, 13, 10, 45)) == 0.75
    assert working_hours_between(local(2025, 3, 13, 12), local(2025, 3, 13, 10)) == -2


def test_other_time_zones_are_converted() -> None:
    start_utc = dt.datetime(2025, 3, 14, 8, tzinfo=dt.UTC)  # 16:00 in Shanghai
    assert add_working_hours(start_utc, 2) == local(2025, 3, 17, 10)


def test_years_without_chinesecalendar_data_keep_the_statutory_holidays_off() -> None:
    year = LAST_YEAR_WITH_DATA + 1
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    # 1 October is National Day whatever weekday it falls on; the 2nd and 3rd too.
    for day in (1, 2, 3):
        assert not is_working_day(dt.date(year, 10, day))
    start = dt.datetime(year, 9, 30, 16, tzinfo=SHANGHAI)
    assert add_working_hours(start, 2) > dt.datetime(year, 10, 4, tzinfo=SHANGHAI)


def test_a_calendar_without_exceptions_is_monday_to_friday() -> None:
    plain = builtin_calendar([])
    days = [dt.date(2040, 1, 1) + dt.timedelta(days=i) for i in range(14)]
    assert [plain.is_working_day(d) for d in days] == [d.weekday() < 5 for d in days]
    friday = next(d for d in days if d.weekday() == 4)
    start = dt.datetime.combine(friday, dt.time(16), tzinfo=SHANGHAI)
    assert workhours.add_working_hours(start, 2, calendar=plain) == start + dt.timedelta(days=3, hours=-6)


def test_naive_and_invalid_inputs_are_rejected() -> None:
    naive = dt.datetime(2025, 3, 14, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_hours(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_hours_between(naive, local(2025, 3, 14))
    with pytest.raises(ValueError, match="timezone-aware"):
        working_hours_between(local(2025, 3, 14), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_working_moment(naive)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="hours"):
            add_working_hours(local(2025, 3, 14), bad)


zones = st.sampled_from([dt.UTC, SHANGHAI, dt.timezone(dt.timedelta(hours=-5))])
moments = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(LAST_YEAR_WITH_DATA + 2, 12, 31),
    timezones=zones,
)


@settings(max_examples=300, deadline=None)
@given(start=moments, hours=st.floats(0, 400, allow_nan=False))
def test_add_then_between_round_trips(start: dt.datetime, hours: float) -> None:
    due = add_working_hours(start, hours)
    assert due >= start
    assert due.tzinfo == dt.UTC
    assert working_hours_between(start, due) == pytest.approx(hours, abs=1e-6)
    assert is_working_day(due.astimezone(SHANGHAI).date())
    assert dt.time(9) <= due.astimezone(SHANGHAI).time() <= dt.time(17)


# Spans drawn directly (rather than three moments filtered to lie within 400 days of each other, which
# Hypothesis' health check rejects as filtering too much).
starts = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(LAST_YEAR_WITH_DATA + 2, 12, 31) - dt.timedelta(days=400),
    timezones=zones,
)
spans = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=200))


@settings(max_examples=200, deadline=None)
@given(first=starts, to_middle=spans, to_last=spans)
def test_between_is_additive_and_antisymmetric(
    first: dt.datetime, to_middle: dt.timedelta, to_last: dt.timedelta
) -> None:
    middle = first + to_middle
    last = middle + to_last
    whole = working_hours_between(first, last)
    assert whole == pytest.approx(working_hours_between(first, middle) + working_hours_between(middle, last))
    assert working_hours_between(last, first) == -whole
    assert 0 <= whole <= ((last - first) / dt.timedelta(hours=1))
