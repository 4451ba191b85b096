"""Finance offices: the statistics summary for a date window; a county office sees only its county."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from core.models import Role
from core.reference import CITY_CODE
from credit_profile.services import today_local
from matching.stats import Window, summary
from portal.api.stats import scoped_region
from portal.auth import role_required, web_user
from portal.db import db
from portal.forms import StatsForm, region_choices
from portal.web.common import INVALID_FORM
from portal.web.labels import WEB_LABELS

bp = Blueprint("finance", __name__, url_prefix="/finance")
MONEY_FIELDS = {"needs_amount", "loans_amount", "renewal_amount", "farmer_amount"}
SHARE_FIELDS = {"first_loan_share", "renewal_success_rate", "credit_loan_share"}


@bp.get("/")
@role_required(Role.FINANCE.value)
def dashboard() -> tuple[str, int]:
    user = web_user()
    today = today_local()
    first = today.replace(day=1) if today.day > 1 else today - dt.timedelta(days=30)
    defaults = {
        "from_date": first.isoformat(),
        "to_date": today.isoformat(),
        "region_code": user.region_code or "",
    }
    form = StatsForm(formdata=request.args if request.args else MultiDict(defaults))
    is_city = user.region_code == CITY_CODE
    result, status = None, 200
    if form.validate():
        # Raises PermissionDeniedError (403) when a county office asks for another county.
        region = scoped_region(user, form.region_code.data or None)
        result = summary(db(), Window(first=form.from_date.data, last=form.to_date.data, region_code=region))
    else:
        status = INVALID_FORM
    if not is_city:
        form.region_code.choices = [c for c in region_choices(with_city=False) if c.value == user.region_code]
    rows = []
    if result is not None:
        rows = [(name, result.get(name)) for name in WEB_LABELS["stat"]]
    return (
        render_template(
            "finance/dashboard.html",
            form=form,
            result=result,
            rows=rows,
            money_fields=MONEY_FIELDS,
            share_fields=SHARE_FIELDS,
            is_city=is_city,
        ),
        status,
    )
