"""The working calendar: one entry per date, provisional from the statutory rules until the State
Council's arrangement is loaded, and the SLA clocks following whatever is loaded."""

from __future__ import annotations

import datetime as dt

import pytest

from core.calendars import (
    CalendarStatus,
    builtin_year,
    ensure_years,
    load_official,
    provisional_warning,
    working_calendar,
    year_calendar,
)
from core.errors import InvalidInputError
from core.models import StatusEvent
from matching.workhours import add_working_hours

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# The State Council's 2027 arrangement as an admin would type it (a made-up one for the test: Spring
# Festival 5-13 February with make-up days on a Sunday and a Saturday either side).
SPRING_2027 = [dt.date(2027, 2, d) for d in range(5, 14)]
MAKE_UP_2027 = [dt.date(2027, 1, 31), dt.date(2027, 2, 20)]


def test_a_year_chinesecalendar_has_is_official_with_its_make_up_days() -> None:
    year = builtin_year(2026)
    assert year.status == CalendarStatus.OFFICIAL
    assert year.days[dt.date(2026, 10, 1)] == (False, "国庆节")
    # Saturday 2026-02-28 is a make-up working day of the Spring Festival.
    assert year.days[dt.date(2026, 2, 28)][0] is True


def test_a_year_chinesecalendar_lacks_is_provisional_with_the_statutory_holidays_off() -> None:
    year = builtin_year(2027)
    assert year.status == CalendarStatus.PROVISIONAL
    assert year.days[dt.date(2027, 10, 1)] == (False, "国庆节")
    assert year.days[dt.date(2027, 2, 8)][0] is False  # Monday of the Spring Festival
    assert year.days[dt.date(2027, 1, 1)][0] is False
    assert all(not working for working, _ in year.days.values())  # no make-up days by rule


def test_year_calendar_lists_every_date(session) -> None:
    view = year_calendar(session, 2027)
    assert view.status == CalendarStatus.PROVISIONAL
    assert len(view.days) == 365
    by_date = {d.date: d for d in view.days}
    assert not by_date[dt.date(2027, 10, 4)].working  # Monday, National Day
    assert not by_date[dt.date(2027, 3, 6)].working  # an ordinary Saturday
    assert by_date[dt.date(2027, 3, 8)].working


def test_loading_the_arrangement_makes_the_year_official_and_moves_sla_deadlines(session) -> None:
    ensure_years(session, [2027])
    # Thursday 4 February 2027 16:00 plus 2 working hours: provisionally the Spring Festival rule keeps
    # Friday 5 to Wednesday 10 off, so the deadline is Thursday 11 at 10:00.
    start = dt.datetime(2027, 2, 4, 16, tzinfo=SHANGHAI)
    before = add_working_hours(start, 2, calendar=working_calendar(session))
    assert before == dt.datetime(2027, 2, 11, 10, tzinfo=SHANGHAI)

    load_official(session, 2027, holidays=SPRING_2027, workdays=MAKE_UP_2027, actor_id=None)
    session.flush()
    view = year_calendar(session, 2027)
    assert view.status == CalendarStatus.OFFICIAL
    by_date = {d.date: d for d in view.days}
    assert by_date[dt.date(2027, 1, 31)].working  # a Sunday, now a make-up working day
    assert not by_date[dt.date(2027, 2, 12)].working
    # Only what was loaded is off: 1 October 2027 is a Friday and now a working day.
    assert by_date[dt.date(2027, 10, 1)].working

    # Officially the holiday runs to Saturday 13: the deadline moves to Monday 15 at 10:00.
    after = add_working_hours(start, 2, calendar=working_calendar(session))
    assert after == dt.datetime(2027, 2, 15, 10, tzinfo=SHANGHAI)
    # The change is on the audit chain.
    event = session.query(StatusEvent).filter_by(entity_type="calendar", entity_id=2027).one()
    assert event.to_status == CalendarStatus.OFFICIAL


@pytest.mark.parametrize(
    ("holidays", "workdays", "field"),
    [
        ([dt.date(2026, 10, 1)], [], "holidays"),  # another year
        ([dt.date(2027, 10, 1)], [dt.date(2027, 10, 1)], "workdays"),  # both
        ([], [], "holidays"),  # nothing
    ],
)
def test_a_bad_arrangement_is_refused_and_changes_nothing(session, holidays, workdays, field) -> None:
    ensure_years(session, [2027])
    with pytest.raises(InvalidInputError) as caught:
        load_official(session, 2027, holidays=holidays, workdays=workdays, actor_id=None)
    assert field in caught.value.fields
    assert year_calendar(session, 2027).status == CalendarStatus.PROVISIONAL


def test_admins_are_warned_from_november_while_next_year_is_provisional(session) -> None:
    assert provisional_warning(session, today=dt.date(2026, 10, 31)) is None
    assert provisional_warning(session, today=dt.date(2026, 11, 1)) == 2027
    load_official(session, 2027, holidays=SPRING_2027, workdays=MAKE_UP_2027, actor_id=None)
    session.flush()
    assert provisional_warning(session, today=dt.date(2026, 12, 20)) is None


def test_the_daily_job_stores_this_and_next_year_once(session, session_factory) -> None:
    from core import jobs, runtime
    from core.types import local_today
    from tests.conftest import make_settings

    runtime.bind(session_factory, make_settings())
    year = local_today().year
    assert set(jobs.load_calendar_years()) == {year, year + 1}
    assert jobs.load_calendar_years() == []
    assert year_calendar(session, year + 1).loaded_at is not None
