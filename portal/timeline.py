"""Status events as sentences an applicant or officer reads."""

from __future__ import annotations

from flask_babel import gettext as _

from core.models import StatusEvent
from core.reference import REASON_CODES
from portal.filters import LABELS


def describe_event(event: StatusEvent) -> str:
    data = event.data or {}
    if event.entity_type == "need":
        if event.to_status == "submitted":
            text = _("融资需求已提交，平台正在匹配产品")
        elif event.to_status == "matched":
            text = _(
                "第%(round)s轮匹配完成，已推送给%(n)s家机构",
                round=data.get("round", 1),
                n=data.get("leads", 0),
            )
        elif event.to_status == "unmatched":
            text = _("暂未找到符合条件的产品，可查看原因后调整需求")
        else:
            text = _("需求状态变为：%(s)s", s=_(LABELS["need_status"].get(event.to_status, event.to_status)))
    elif event.entity_type == "lead":
        if event.to_status == "pushed":
            text = _(
                "已推送至%(inst)s（%(product)s）",
                inst=data.get("institution", ""),
                product=data.get("product", ""),
            )
        elif event.to_status == "rejected":
            reason = REASON_CODES.get(str(data.get("reason_code")), "")
            text = _(
                "线索#%(id)s已被拒绝：%(reason)s", id=event.entity_id, reason=_(reason) if reason else ""
            )
        else:
            status = _(LABELS["lead_status"].get(event.to_status, event.to_status))
            text = _("线索#%(id)s：%(s)s", id=event.entity_id, s=status)
    else:
        text = event.to_status
    if event.note:
        text = f"{text}（{event.note}）"
    return text
