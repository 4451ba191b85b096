"""In-app notifications of the signed-in user, worded here from their kind, data and status event."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.i18n import N_
from core.models import Notification, StatusEvent
from core.notifications import list_notifications, mark_read, unread_count
from portal.api import api_bp
from portal.api.schemas.notifications import NotificationOut, NotificationPage, NotificationQuery
from portal.auth import api_user, token_auth
from portal.db import db
from portal.notices import notification_text


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
