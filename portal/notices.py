"""How a notification reads and where it leads: the same sentence in the notification centre, the
header and the API; the link to the thing it is about, by the reader's role."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import url_for
from flask_babel import gettext as _

from core.models import Notification, Role, StatusEvent
from matching.notices import wan
from portal.labels import label
from portal.timeline import describe_event


def _wan(amount: object) -> str:
    try:
        return wan(Decimal(str(amount)))
    except (InvalidOperation, ValueError):
        return ""


def notification_text(row: Notification, event: StatusEvent | None) -> str:
    """The Chinese sentence for a notification; officers read about leads, applicants about needs."""
    data = row.data or {}
    if row.kind == "lead_pushed":
        return _(
            "新线索待认领：%(amount)s万元融资需求（%(product)s），请在时限内认领",
            amount=_wan(data.get("amount")),
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
    if row.kind == "report_ready":
        return _(
            "%(month)s %(region)s月度报告已生成，请在“月度报表”页面查看或下载",
            month=data.get("month", ""),
            region=label(data.get("region_code", ""), "region"),
        )
    if event is not None:
        return describe_event(event)
    # Never an internal code on a page: an unknown kind reads as a generic notice.
    return str(data.get("text") or _("您有一条新的通知"))


def notification_link(row: Notification, role: str) -> str | None:
    """The page of the lead or need the notification is about, for the reader's role; None if none."""
    if row.lead_id is not None and role == Role.OFFICER:
        return url_for("officer.lead", lead_id=row.lead_id)
    if row.need_id is not None and role == Role.APPLICANT:
        return url_for("applicant.need", need_id=row.need_id)
    if row.kind == "report_ready" and role == Role.FINANCE:
        return url_for("finance.reports")
    return None
