"""The working calendar's admin page: each year's status, and loading the State Council's arrangement."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.calendars import load_official, provisional_warning, year_statuses
from core.errors import InvalidInputError
from core.models import Role
from core.types import local_today
from portal.auth import role_required, web_user
from portal.db import db
from portal.web.common import INVALID_FORM, apply_errors, ok
from portal.web.forms.calendars import CalendarForm

bp = Blueprint("calendars", __name__, url_prefix="/admin/calendar")


@bp.route("", methods=["GET", "POST"])
@role_required(Role.ADMIN.value)
def calendar() -> Any:
    today = local_today()
    form = CalendarForm()
    if request.method == "GET" and form.year.data is None:
        form.year.data = today.year + 1
    if form.validate_on_submit():
        try:
            load_official(
                db(),
                form.year.data,
                holidays=form.holidays.dates,
                workdays=form.workdays.dates,
                actor_id=web_user().id,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("%(year)s 年节假日安排已载入，服务时限按新安排计算", year=form.year.data))
            return redirect(url_for(".calendar"))
    status = INVALID_FORM if request.method == "POST" else 200
    years = year_statuses(db(), range(today.year - 1, today.year + 2))
    warning = provisional_warning(db(), today=today)
    return render_template("admin/calendar.html", form=form, years=years, warning=warning), status
