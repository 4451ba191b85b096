"""Status events as sentences an applicant or officer reads."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from core.models import StatusEvent
from core.reference import REASON_CODES
from portal.labels import LABELS


def _need_text(event: StatusEvent, data: dict[str, Any]) -> str:
    kind = data.get("kind")
    n = data.get("leads", 0)
    if kind == "opened_to_all":
        return _(
            "已连续%(rounds)s轮无机构认领，需求已开放给所有符合条件的机构（新推送%(n)s家），"
            "并已提请县区金融办关注",
            rounds=data.get("rounds", 0),
            n=n,
        )
    if kind == "redispatched":
        if not n:
            return _("已没有其他符合条件的机构可以推送")
        if data.get("reason") == "declined":
            return _("原推送机构已婉拒，已进入第%(round)s轮，转推给%(n)s家机构", round=data.get("round"), n=n)
        if data.get("reason") == "released":
            return _(
                "受理机构长时间未跟进，已进入第%(round)s轮，转推给%(n)s家机构", round=data.get("round"), n=n
            )
        return _(
            "原推送机构未在时限内认领，已进入第%(round)s轮，转推给%(n)s家机构", round=data.get("round"), n=n
        )
    if kind == "topped_up":
        if data.get("reason") == "score":
            return _("信用评分更新后重新匹配，已追加推送给%(n)s家机构", n=n)
        return _("有新产品上架或产品调整，已追加推送给%(n)s家机构", n=n)
    if kind == "edited":
        return _("申请人修改了需求，平台已按新的金额、期限和担保方式重新匹配")
    if kind == "back_to_dispatch":
        return _("受理机构已释放线索，需求重新等待机构认领")
    if event.to_status == "submitted":
        return _("融资需求已提交，平台正在匹配产品")
    if event.to_status == "matched":
        if data.get("reason") == "score":
            return _("信用评分更新后重新匹配，已推送给%(n)s家机构", n=n)
        if data.get("reason"):
            return _("有新产品上架或产品调整，已匹配并推送给%(n)s家机构", n=n)
        return _("第%(round)s轮匹配完成，已推送给%(n)s家机构", round=data.get("round", 1), n=n)
    if event.to_status == "unmatched":
        return _("暂未找到符合条件的产品，可查看原因后调整需求")
    return _("需求状态变为：%(s)s", s=_(LABELS["need_status"].get(event.to_status, event.to_status)))


def _lead_text(event: StatusEvent, data: dict[str, Any]) -> str:
    kind = data.get("kind")
    institution = data.get("institution") or _("线索#%(id)s", id=event.entity_id)
    if kind == "stale_flagged":
        return _(
            "%(inst)s已超过%(hours)s个工作小时未更新进度，已提醒客户经理跟进",
            inst=institution,
            hours=data.get("hours"),
        )
    if kind == "released":
        return _("%(inst)s超过跟进时限未更新进度，线索已释放", inst=institution)
    if data.get("reason") == "need_edited":
        return _("需求修改后已不符合%(inst)s的产品条件，线索已关闭", inst=institution)
    if kind == "sla_expired":
        return _("%(inst)s未在时限内认领，线索已失效", inst=institution)
    if event.to_status == "pushed":
        return _(
            "已推送至%(inst)s（%(product)s）",
            inst=data.get("institution", ""),
            product=data.get("product", ""),
        )
    if event.to_status == "rejected":
        reason = REASON_CODES.get(str(data.get("reason_code")), "")
        return _("%(inst)s已拒绝：%(reason)s", inst=institution, reason=_(reason) if reason else "")
    status = _(LABELS["lead_status"].get(event.to_status, event.to_status))
    return _("%(inst)s：%(s)s", inst=institution, s=status)


def describe_event(event: StatusEvent) -> str:
    data = event.data or {}
    if event.entity_type == "need":
        text = _need_text(event, data)
    elif event.entity_type == "lead":
        text = _lead_text(event, data)
    else:
        text = event.to_status
    if event.note:
        text = f"{text}（{event.note}）"
    return text
