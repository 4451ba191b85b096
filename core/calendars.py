"""The working calendar: which dates of a year are working days in mainland China, in the database.

A year's arrangement (the State Council's public holidays and make-up working days, 调休) is published
each autumn for the next year. Years are loaded into `calendar_years` / `calendar_days`:

- from `chinesecalendar` for the years it has data for (`official`, the published arrangement);
- from the `holidays` package's statutory rules for the years it lacks (`provisional`: the statutory
  holidays by rule, weekends off, no make-up days), so that a year the package does not know never
  silently counts Spring Festival as working time;
- by an admin (`load_official`, page and API), when the arrangement is published, without a release.

Only the exceptions are stored: a date off that would be a weekday, or a date inside a holiday period,
and a weekend date that is worked. Every other date is a working day from Monday to Friday.
`working_calendar` is what every SLA clock reads (matching.workhours takes it as an argument).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import chinese_calendar
import holidays as statutory
from sqlalchemy import Date, ForeignKey, String, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import InvalidInputError
from core.events import record_event
from core.types import UTCDateTime, utcnow

# The first year chinesecalendar has data for; earlier dates are never read by an SLA clock.
FIRST_YEAR = 2004
# The last year anyone may ask for: far beyond any SLA, and short of the date type's end.
LAST_YEAR = 2100
MAKE_UP_NAME = "调休上班"
WARNING_FROM = (11, 1)  # month, day: admins are warned from then while next year is provisional

# chinesecalendar names its holidays in English; these are the names people read.
_CHINESE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


class CalendarStatus(enum.StrEnum):
    OFFICIAL = "official"
    PROVISIONAL = "provisional"


class CalendarSource(enum.StrEnum):
    CHINESECALENDAR = "chinesecalendar"
    STATUTORY_RULES = "statutory_rules"
    ADMIN = "admin"


class CalendarYear(Base):
    """One loaded year: whether its arrangement is the published one, and where it came from."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    loaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CalendarDay(Base):
    """A date that departs from Monday-Friday: off on a weekday or inside a holiday, or a worked weekend."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_years.year", ondelete="CASCADE"), index=True)
    working: Mapped[bool]
    name: Mapped[str | None] = mapped_column(String(64))


@dataclass(frozen=True)
class YearArrangement:
    """A year as a source gives it: its status, and its exceptional dates as (working, name)."""

    year: int
    status: CalendarStatus
    source: CalendarSource
    days: Mapping[dt.date, tuple[bool, str | None]]


@dataclass(frozen=True, slots=True)
class CalendarDate:
    date: dt.date
    working: bool
    name: str | None


@dataclass(frozen=True)
class YearView:
    """Every date of a year as the API and the admin page show it."""

    year: int
    status: CalendarStatus
    source: CalendarSource
    loaded_at: dt.datetime | None
    days: tuple[CalendarDate, ...]


@dataclass(frozen=True)
class WorkCalendar:
    """Working days for the SLA clocks: the exceptions of every known year, Monday-Friday elsewhere."""

    exceptions: Mapping[dt.date, bool]

    def is_working_day(self, day: dt.date) -> bool:
        return self.exceptions.get(day, day.weekday() < 5)


def _weekday_rule(day: dt.date) -> bool:
    return day.weekday() < 5


@lru_cache(maxsize=64)
def builtin_year(year: int) -> YearArrangement:
    """The year from the packages (pure, cached: their data only changes with an upgrade).

    chinesecalendar's published arrangement when it has the year, else the statutory holidays by rule.
    """
    days: dict[dt.date, tuple[bool, str | None]] = {}
    if FIRST_YEAR <= year <= max(chinese_calendar.holidays).year:
        for day, name in chinese_calendar.holidays.items():
            if day.year == year:
                days[day] = (False, _CHINESE_NAMES.get(str(name), str(name)))
        for day in chinese_calendar.workdays:
            if day.year == year and not _weekday_rule(day):
                days[day] = (True, MAKE_UP_NAME)
        return YearArrangement(
            year, CalendarStatus.OFFICIAL, CalendarSource.CHINESECALENDAR, MappingProxyType(days)
        )
    for day, name in statutory.country_holidays("CN", years=year, language="zh_CN").items():
        days[day] = (False, str(name))
    return YearArrangement(
        year, CalendarStatus.PROVISIONAL, CalendarSource.STATUTORY_RULES, MappingProxyType(days)
    )


def _store(session: Session, arrangement: YearArrangement, *, actor_id: int | None) -> CalendarYear:
    session.execute(delete(CalendarDay).where(CalendarDay.year == arrangement.year))
    row = session.get(CalendarYear, arrangement.year)
    if row is None:
        row = CalendarYear(year=arrangement.year)
        session.add(row)
    row.status = arrangement.status
    row.source = arrangement.source
    row.loaded_at = utcnow()
    row.loaded_by = actor_id
    session.flush()
    if arrangement.days:
        session.execute(
            insert(CalendarDay),
            [
                {"day": day, "year": arrangement.year, "working": working, "name": name}
                for day, (working, name) in sorted(arrangement.days.items())
            ],
        )
    return row


def ensure_years(session: Session, years: Iterable[int]) -> list[int]:
    """Load the packages' arrangement of each year not yet in the database; returns the years loaded.

    A year already loaded is left alone: an admin's official arrangement is never overwritten.
    """
    wanted = sorted(set(years))
    present = set(session.scalars(select(CalendarYear.year).where(CalendarYear.year.in_(wanted))))
    loaded = []
    for year in wanted:
        if year not in present:
            _store(session, builtin_year(year), actor_id=None)
            loaded.append(year)
    return loaded


def _validate(year: int, holidays: list[dt.date], workdays: list[dt.date]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not holidays:
        errors["holidays"] = ["required"]
    for field, dates in (("holidays", holidays), ("workdays", workdays)):
        if any(d.year != year for d in dates):
            errors.setdefault(field, []).append("outside_year")
        if len(set(dates)) != len(dates):
            errors.setdefault(field, []).append("duplicate")
    if set(holidays) & set(workdays):
        errors.setdefault("workdays", []).append("also_a_holiday")
    return errors


def load_official(
    session: Session,
    year: int,
    *,
    holidays: list[dt.date],
    workdays: list[dt.date],
    actor_id: int | None,
) -> YearView:
    """Replace `year` by the State Council's arrangement: `holidays` off (weekends inside a holiday
    period included), `workdays` worked (the make-up weekend days). Every other date follows the
    weekday rule. The year becomes `official`; the change is recorded on the audit chain with the
    previous arrangement. Raises InvalidInputError (a date outside the year, a date in both lists,
    duplicates, no holidays) and changes nothing then.
    """
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInputError({"year": ["out_of_range"]})
    errors = _validate(year, holidays, workdays)
    if errors:
        raise InvalidInputError(errors)
    previous = session.get(CalendarYear, year)
    before = previous.status if previous else None
    days: dict[dt.date, tuple[bool, str | None]] = {
        day: (False, name) for day, name in _holiday_names(year, holidays).items()
    }
    for day in workdays:
        days[day] = (True, MAKE_UP_NAME)
    _store(
        session,
        YearArrangement(year, CalendarStatus.OFFICIAL, CalendarSource.ADMIN, MappingProxyType(days)),
        actor_id=actor_id,
    )
    record_event(
        session,
        entity_type="calendar",
        entity_id=year,
        from_status=before,
        to_status=CalendarStatus.OFFICIAL,
        actor_id=actor_id,
        data={
            "holidays": [d.isoformat() for d in sorted(holidays)],
            "workdays": [d.isoformat() for d in sorted(workdays)],
        },
    )
    return year_calendar(session, year)


def _holiday_names(year: int, holidays: list[dt.date]) -> dict[dt.date, str | None]:
    """Each holiday named after the statutory holiday its run of consecutive days mostly falls on
    (a run 5-13 February is 春节 throughout, its eve and make-up days included)."""
    known = builtin_year(year).days
    names: dict[dt.date, str | None] = {}
    run: list[dt.date] = []
    for day in [*sorted(holidays), dt.date.max]:
        if run and (day == dt.date.max or day - run[-1] != dt.timedelta(days=1)):
            found = [n for d in run if (n := known.get(d, (True, None))[1]) and n != MAKE_UP_NAME]
            plain = [n for n in found if "（" not in n and "除夕" not in n] or found
            name = max(set(plain), key=plain.count) if plain else None
            names.update(dict.fromkeys(run, name))
            run = []
        if day != dt.date.max:
            run.append(day)
    return names


def year_calendar(session: Session, year: int) -> YearView:
    """Every date of `year`: the database's arrangement, or the packages' when the year is not loaded.

    Raises InvalidInputError for a year outside FIRST_YEAR..LAST_YEAR.
    """
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInputError({"year": ["out_of_range"]})
    row = session.get(CalendarYear, year)
    if row is None:
        arrangement = builtin_year(year)
        status, source, loaded_at = arrangement.status, arrangement.source, None
        days: Mapping[dt.date, tuple[bool, str | None]] = arrangement.days
    else:
        status, source = CalendarStatus(row.status), CalendarSource(row.source)
        loaded_at = row.loaded_at
        days = {
            d.day: (d.working, d.name)
            for d in session.scalars(select(CalendarDay).where(CalendarDay.year == year))
        }
    entries = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        working, name = days.get(day, (_weekday_rule(day), None))
        entries.append(CalendarDate(day, working, name))
        day += dt.timedelta(days=1)
    return YearView(year, status, source, loaded_at, tuple(entries))


def builtin_calendar(years: Iterable[int]) -> WorkCalendar:
    """The packages' arrangement of `years` as a calendar (pure: no database)."""
    return WorkCalendar(MappingProxyType(_builtin_exceptions(years)))


def _builtin_exceptions(years: Iterable[int]) -> dict[dt.date, bool]:
    exceptions: dict[dt.date, bool] = {}
    for year in years:
        exceptions.update((day, working) for day, (working, _) in builtin_year(year).days.items())
    return exceptions


def working_calendar(session: Session, *, today: dt.date | None = None) -> WorkCalendar:
    """The calendar every SLA clock reads: the database's years, and the packages' for the years from
    FIRST_YEAR to two years ahead that are not loaded. Two small queries."""
    today = today or dt.datetime.now(dt.UTC).date()
    loaded = set(session.scalars(select(CalendarYear.year)))
    last = max(today.year + 2, max(loaded, default=0))
    exceptions = _builtin_exceptions(y for y in range(FIRST_YEAR, last + 1) if y not in loaded)
    exceptions.update(
        (day, working) for day, working in session.execute(select(CalendarDay.day, CalendarDay.working))
    )
    return WorkCalendar(MappingProxyType(exceptions))


def provisional_warning(session: Session, *, today: dt.date) -> int | None:
    """Next year, from 1 November, while its arrangement is still provisional; else None."""
    if (today.month, today.day) < WARNING_FROM:
        return None
    year = today.year + 1
    if year_status(session, year) == CalendarStatus.PROVISIONAL:
        return year
    return None


def year_status(session: Session, year: int) -> CalendarStatus:
    row = session.get(CalendarYear, year)
    return CalendarStatus(row.status) if row else builtin_year(year).status


@dataclass(frozen=True, slots=True)
class YearStatus:
    year: int
    status: CalendarStatus
    source: CalendarSource
    loaded_at: dt.datetime | None
    holidays: int
    workdays: int


def year_statuses(session: Session, years: Iterable[int]) -> list[YearStatus]:
    """The status of each of `years`, and of every loaded year, in order; one query per table."""
    rows = {row.year: row for row in session.scalars(select(CalendarYear))}
    counts: dict[tuple[int, bool], int] = {}
    for year, working in session.execute(select(CalendarDay.year, CalendarDay.working)):
        counts[(year, working)] = counts.get((year, working), 0) + 1
    result = []
    for year in sorted(set(years) | set(rows)):
        row = rows.get(year)
        if row is None:
            built = builtin_year(year)
            off = sum(1 for working, _ in built.days.values() if not working)
            result.append(YearStatus(year, built.status, built.source, None, off, len(built.days) - off))
        else:
            result.append(
                YearStatus(
                    year,
                    CalendarStatus(row.status),
                    CalendarSource(row.source),
                    row.loaded_at,
                    counts.get((year, False), 0),
                    counts.get((year, True), 0),
                )
            )
    return result
