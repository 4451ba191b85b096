"""In-app notifications of the signed-in user, worded here from their kind, data and status event."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from marshmallow import RAISE

from core.i18n import N_
from core.models import Notification, StatusEvent
from core.notifications import list_notifications, mark_read, unread_count
from portal.api import api_bp
from portal.api.schemas.notifications import NotificationOut, NotificationPage, NotificationQuery
from portal.auth import api_user, token_auth
from portal.db import db
from portal.timeline import describe_event


def notification_text(row: Notification, event: StatusEvent | None) -> str:
    """The Chinese sentence for a notification; officers read about leads, applicants about needs."""
    data = row.data or {}
    if row.kind == "lead_pushed":
        return _(
            "新线索待认领：%(amount)s元融资需求（%(product)s），请在时限内认领",
            amount=data.get("amount", ""),
            product=data.get("product", ""),
        )
    if row.kind == "lead_stale":
        return _(
            "线索#%(id)s已超过%(hours)s个工作小时未更新进度，请尽快跟进；再过%(hours)s个工作小时仍未更新，"
            "线索将转给其他机构",
            id=row.lead_id,
            hours=data.get("hours"),
        )
    if row.kind == "lead_released":
        return _("线索#%(id)s长时间未跟进，已释放并转给其他机构", id=row.lead_id)
    if row.kind == "lead_closed":
        return _("线索#%(id)s已关闭：需求已撤回或已由其他机构办理", id=row.lead_id)
    if row.kind == "need_no_institutions":
        return _("融资需求#%(need)s已无可推送的机构，需求已结束，请关注并协调", need=row.need_id)
    if row.kind == "need_open_to_all":
        return _(
            "融资需求#%(need)s已连续%(rounds)s轮无机构认领，已开放给所有符合条件的机构，请关注",
            need=row.need_id,
            rounds=data.get("rounds", 0),
        )
    if row.kind == "renewal_reminder":
        return _(
            "您的贷款将于%(date)s到期（还有%(days)s天）。无还本续贷须在贷款到期前申请办理，"
            "请及时跟进续贷需求#%(need)s",
            date=data.get("matures_on", ""),
            days=data.get("days", ""),
            need=row.need_id,
        )
    if event is not None:
        return describe_event(event)
    return str(data.get("text") or row.kind)


def notification_dict(row: Notification) -> dict[str, Any]:
    event = db().get(StatusEvent, row.event_id) if row.event_id else None
    return {
        "id": row.id,
        "kind": row.kind,
        "text": notification_text(row, event),
        "need_id": row.need_id,
        "lead_id": row.lead_id,
        "created_at": row.created_at,
        "read_at": row.read_at,
        "read": row.read_at is not None,
    }


@api_bp.get("/notifications")
@api_bp.auth_required(token_auth)
@api_bp.input(NotificationQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(NotificationPage)
@api_bp.doc(summary=N_("我的站内通知（最新在前）"), responses=[401])
def notifications(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    user_id = api_user().id
    rows, total = list_notifications(
        db(), user_id, unread_only=query["unread"], limit=per_page, offset=(page - 1) * per_page
    )
    return {
        "items": [notification_dict(row) for row in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
        "unread": unread_count(db(), user_id),
    }


@api_bp.post("/notifications/<int:notification_id>/read")
@api_bp.auth_required(token_auth)
@api_bp.output(NotificationOut)
@api_bp.doc(summary=N_("标记通知为已读"), responses=[401, 404])
def read_notification(notification_id: int) -> dict[str, Any]:
    row = mark_read(db(), notification_id, user_id=api_user().id)
    return notification_dict(row)
