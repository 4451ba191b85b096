"""Alerts for the finance offices: a county office sees its own county, the city office every county."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from marshmallow import RAISE

from core.i18n import N_
from core.masking import borrower_name
from core.models import Role
from credit_profile.models import Borrower, BorrowerKind
from matching.alerts import list_alerts
from matching.models import Alert, AlertKind, Need
from portal.api import api_bp
from portal.api.common import page_body
from portal.api.schemas.alerts import AlertPage, AlertQuery
from portal.auth import api_user, token_auth
from portal.db import db
from portal.labels import LABELS
from portal.stats_scope import scoped_region


def alert_text(alert: Alert) -> str:
    data = alert.data or {}
    region = _(LABELS["region"].get(alert.region_code, alert.region_code))
    if alert.kind == AlertKind.OPEN_TO_ALL:
        return _(
            "%(region)s融资需求#%(need)s（%(amount)s元）已连续%(rounds)s轮无机构认领，"
            "已开放给所有符合条件的机构（新推送%(n)s家），请关注并协调",
            region=region,
            need=alert.need_id,
            amount=data.get("amount", ""),
            rounds=data.get("rounds", 0),
            n=data.get("leads", 0),
        )
    if alert.kind == AlertKind.NO_INSTITUTIONS:
        return _(
            "%(region)s融资需求#%(need)s（%(amount)s元）已推送给所有符合条件的机构但无人受理，"
            "已无可推送的机构，请关注并协调",
            region=region,
            need=alert.need_id,
            amount=data.get("amount", ""),
        )
    return alert.kind


def alert_dict(alert: Alert) -> dict[str, Any]:
    session = db()
    need = session.get(Need, alert.need_id)
    assert need is not None
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    return {
        "id": alert.id,
        "kind": alert.kind,
        "text": alert_text(alert),
        "region_code": alert.region_code,
        "created_at": alert.created_at,
        "need": {
            "id": need.id,
            "status": need.status,
            "amount": need.amount,
            "term_months": need.term_months,
            "dispatch_round": need.dispatch_round,
            "open_to_all": need.open_to_all,
            "borrower": borrower_name(borrower.name, is_person=borrower.kind == BorrowerKind.FARMER),
            "borrower_kind": borrower.kind,
        },
    }


@api_bp.get("/alerts")
@api_bp.auth_required(token_auth, roles=[Role.FINANCE.value])
@api_bp.input(AlertQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(AlertPage)
@api_bp.doc(summary=N_("需关注事项（如连续多轮无人认领、已开放给所有机构的需求）"), responses=[401, 403, 422])
def alerts(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    region = scoped_region(api_user(), query.get("region_code"))
    rows, total = list_alerts(db(), region_code=region, limit=per_page, offset=(page - 1) * per_page)
    return page_body([alert_dict(a) for a in rows], total, page, per_page)
