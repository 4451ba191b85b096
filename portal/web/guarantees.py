"""Government credit enhancement pages: the guarantor's queue (covers with their SLA clock, bridges with
their days-left clock), a cover with its loss waterfall, a bridge application with its clock, and the
finance office's scheme page (each scheme against its limits, the cap monitor, the figures by county,
bank, guarantor or scheme). Read-only: every step of the workflows is in the JSON API (docs/api.md).
Who may see which cover or bridge is decided in guarantees.views; another's is a 404."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from core.errors import InvalidInputError
from core.models import Role, User
from core.reference import CITY_CODE
from core.types import local_today
from guarantees.figures import (
    BRIDGE_FIGURES,
    COVER_FIGURES,
    Period,
    bridge_figures,
    cap_monitor,
    cover_figures,
    scheme_figures,
)
from guarantees.views import bridge_list, bridge_view, cover_queue, cover_view, viewer_of
from portal.auth import role_required, web_user
from portal.db import db
from portal.stats_scope import stats_window
from portal.web.common import INVALID_FORM, apply_errors
from portal.web.forms.guarantees import SchemeFiguresForm
from products.models import Institution
from stats.guarantee_tables import AMOUNTS, SHARES

bp = Blueprint("guarantees", __name__, url_prefix="/guarantees")
GUARANTOR = Role.GUARANTOR.value
READERS = (GUARANTOR, Role.OFFICER.value, Role.FINANCE.value, Role.APPLICANT.value)
# How the scheme page shows each figure (one place: the exports' and the report's tables).
MONEY, RATES = AMOUNTS, SHARES


@bp.get("/queue")
@role_required(GUARANTOR)
def queue() -> str:
    viewer = viewer_of(web_user())
    covers, total = cover_queue(db(), viewer, limit=100)
    bridges = bridge_list(db(), viewer)
    return render_template(
        "guarantees/queue.html", covers=covers, total=total, bridges=bridges, today=local_today()
    )


@bp.get("/covers/<int:cover_id>")
@role_required(*READERS)
def cover(cover_id: int) -> str:
    view = cover_view(db(), cover_id, viewer_of(web_user()))
    return render_template("guarantees/cover.html", cover=view)


@bp.get("/bridges/<int:bridge_id>")
@role_required(*READERS)
def bridge(bridge_id: int) -> str:
    view = bridge_view(db(), bridge_id, viewer_of(web_user()))
    return render_template("guarantees/bridge.html", bridge=view, today=local_today())


def _default_args(user: User) -> MultiDict[str, str]:
    today = local_today()
    return MultiDict(
        {
            "from_date": today.replace(month=1, day=1).isoformat(),
            "to_date": today.isoformat(),
            "region_code": user.region_code or "",
            "by": "region",
        }
    )


@bp.get("/schemes")
@role_required(Role.FINANCE.value)
def schemes() -> tuple[str, int]:
    user = web_user()
    form = SchemeFiguresForm(formdata=request.args if request.args else _default_args(user))
    status, context = 200, {}
    if form.validate():
        try:
            window = stats_window(user, form.from_date.data, form.to_date.data, form.region_code.data or None)
        except InvalidInputError as error:
            apply_errors(form, error, aliases={"from": "from_date", "to": "to_date"})
            status = INVALID_FORM
        else:
            period = Period(window.first, window.last, window.region_code)
            context = _figures(period, form.by.data or "region")
    else:
        status = INVALID_FORM
    return render_template("guarantees/schemes.html", form=form, **context), status


def _figures(period: Period, by: str) -> dict[str, Any]:
    session = db()
    names = dict(session.query(Institution.id, Institution.name).all())
    schemes = scheme_figures(session, period)
    scheme_names = {s.scheme_id: s.name for s in schemes}
    caps = cap_monitor(session)

    def key_name(key: Any) -> Any:
        if by in ("bank", "guarantor"):
            return names.get(key, key)
        if by == "scheme":
            return scheme_names.get(key, key)
        return key

    covers = cover_figures(session, period, by)
    bridges = bridge_figures(session, period, by)
    return {
        "period": period,
        "by": by,
        "schemes_rows": schemes,
        "caps": [(c, scheme_names.get(c.scheme_id, ""), names.get(c.institution_id, "")) for c in caps],
        "cover_rows": sorted(((key_name(k), k, v) for k, v in covers.items()), key=lambda r: str(r[0])),
        "bridge_rows": sorted(((key_name(k), k, v) for k, v in bridges.items()), key=lambda r: str(r[0])),
        "cover_figures": COVER_FIGURES,
        "bridge_figure_names": BRIDGE_FIGURES,
        "money": MONEY,
        "rates": RATES,
        "as_at": period.as_at,
        # The same tables as files (stats.guarantee_tables through the finance office's export).
        "export_base": {
            "from_date": period.first.isoformat(),
            "to_date": period.last.isoformat(),
            "region_code": period.region_code or "",
        },
        "export_by": {"region": "county", "bank": "institution"}.get(by, by),
        "is_city": period.region_code in (None, "", CITY_CODE),
    }
