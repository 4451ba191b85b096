"""The working calendar: read by anyone, loaded by admins when the State Council publishes a year."""

from __future__ import annotations

from typing import Any

from core.calendars import YearView, load_official, year_calendar
from core.i18n import N_
from core.models import Role
from portal.api import api_bp
from portal.api.schemas.calendars import CalendarIn, CalendarOut, CalendarQuery
from portal.auth import api_user, token_auth
from portal.db import db


def _body(view: YearView) -> dict[str, Any]:
    return {
        "year": view.year,
        "status": view.status.value,
        "days": [{"date": d.date, "working": d.working, "name": d.name} for d in view.days],
    }


@api_bp.get("/reference/calendar")
@api_bp.input(CalendarQuery, location="query", arg_name="query")
@api_bp.output(CalendarOut)
@api_bp.doc(summary=N_("工作日历（法定节假日与调休）"), responses=[422])
def calendar(query: dict[str, Any]) -> dict[str, Any]:
    return _body(year_calendar(db(), query["year"]))


@api_bp.put("/admin/calendar/<int:year>")
@api_bp.auth_required(token_auth, roles=[Role.ADMIN.value])
@api_bp.input(CalendarIn, arg_name="body")
@api_bp.output(CalendarOut)
@api_bp.doc(summary=N_("载入国务院公布的节假日安排"), responses=[401, 403, 422])
def load_calendar(year: int, body: dict[str, Any]) -> dict[str, Any]:
    view = load_official(
        db(), year, holidays=body["holidays"], workdays=body["workdays"], actor_id=api_user().id
    )
    return _body(view)
