"""The finance pages' period presets and the period a window compares with (stats.periods)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from stats.breakdowns import same_period_last_year
from stats.periods import month_end, preset_dates, previous_period, whole_months
from stats.windows import Window

DAYS = st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2098, 12, 31))


def test_the_last_12_months_are_complete_months_before_this_one() -> None:
    assert preset_dates("last_12_months", dt.date(2026, 12, 6)) == (
        dt.date(2025, 12, 1),
        dt.date(2026, 11, 30),
    )
    assert preset_dates("last_12_months", dt.date(2026, 1, 1)) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert preset_dates("last_12_months", dt.date(2024, 3, 31)) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))


@given(DAYS)
def test_last_12_months_compare_with_the_12_before_them(today: dt.date) -> None:
    first, last = preset_dates("last_12_months", today)
    assert whole_months(first, last) == 12 and last < today.replace(day=1)
    assert last == today.replace(day=1) - dt.timedelta(days=1)
    before = previous_period(first, last)
    assert whole_months(*before) == 12 and before[1] == first - dt.timedelta(days=1)
    # The indicators' "same period last year" is the same twelve months, leap years included.
    year_ago = same_period_last_year(Window(first, last))
    assert (year_ago.first, year_ago.last) == before


@given(DAYS, st.integers(0, 400))
def test_a_window_of_days_compares_with_as_many_days_before(first: dt.date, length: int) -> None:
    last = first + dt.timedelta(days=length)
    before = previous_period(first, last)
    if whole_months(first, last) is None:
        assert (before[1] - before[0]).days == length
    assert before[1] == first - dt.timedelta(days=1)


def test_a_month_compares_with_the_month_before() -> None:
    assert previous_period(dt.date(2026, 3, 1), month_end(dt.date(2026, 3, 1))) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
    )
