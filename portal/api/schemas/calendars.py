"""Schemas of the working calendar: one entry per date of a year, and the arrangement an admin loads."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, Integer, List, Nested, String
from apiflask.validators import Length, Range

from core.calendars import FIRST_YEAR, LAST_YEAR
from core.i18n import N_
from portal.api.schemas.base import In

YEAR_RANGE = Range(min=FIRST_YEAR, max=LAST_YEAR, error=N_("应在 {min} 到 {max} 之间"))
# A year has at most 366 dates; more than that in one list is malformed, not an arrangement.
_DATES = Length(max=366, error=N_("日期过多"))


class CalendarQuery(In):
    year = Integer(required=True, strict=False, validate=YEAR_RANGE)


class CalendarIn(In):
    holidays = List(Date(), required=True, validate=_DATES)
    workdays = List(Date(), load_default=list, validate=_DATES)


class CalendarDayOut(Schema):
    date = Date()
    working = Boolean()
    name = String(allow_none=True)


class CalendarOut(Schema):
    year = Integer()
    status = String(metadata={"enum": ["official", "provisional"]})
    days = List(Nested(CalendarDayOut))
