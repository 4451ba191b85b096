"""Who hears about a need's or a lead's change: in-app notifications and SMS, written in the same transaction.

The applicant hears about every status change of their need and its leads (not the ones they made
themselves); an institution's officers hear about a new lead; the claiming officer hears about a
stale lead, its release and its closing; the borrower's county finance office (and the city office)
hears about a need opened to every institution. In-app rows carry a kind and data and are worded by
the portal; SMS bodies are written here, in Simplified Chinese, because they leave the platform.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from core.i18n import N_
from core.models import Role, StatusEvent, User
from core.notifications import (
    NewMessage,
    NewNotification,
    add_notifications,
    notify,
    queue_message,
    queue_messages,
)
from core.reference import CITY_CODE
from core.types import SHANGHAI
from matching.models import Lead, LeadStatus, Need, NeedStatus
from products.models import Institution

SMS_TEXTS = {
    "lead_pushed": N_("【吉惠通】新线索待认领：{amount}万元融资需求（{product}），请于{due}前登录平台认领。"),
    "lead_stale": N_(
        "【吉惠通】线索#{lead}已超过{hours}个工作小时未更新进度，请尽快跟进；再过{hours}个工作小时仍未更新，"
        "线索将转给其他机构。"
    ),
    "lead_claimed": N_("【吉惠通】{institution}已受理您的融资需求#{need}，客户经理将尽快与您联系。"),
    "need_disbursed": N_("【吉惠通】您的融资需求#{need}已放款，感谢使用吉惠通。"),
    "renewal_reminder": N_(
        "【吉惠通】您的贷款将于{date}到期（还有{days}天）。无还本续贷须在贷款到期前申请办理，"
        "请及时跟进续贷需求#{need}。"
    ),
}


def wan(amount: Decimal) -> str:
    """An amount in 元 as people read it in 万元: 300000 -> "30", 125000.5 -> "12.50005"."""
    text = f"{amount / 10000:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%m月%d日%H:%M")


def _applicant(borrower_id: int) -> ColumnElement[bool]:
    return (User.borrower_id == borrower_id) & User.active.is_(True)


def _officer(institution_ids: Collection[int]) -> ColumnElement[bool]:
    return (
        User.institution_id.in_(list(institution_ids)) & (User.role == Role.OFFICER) & User.active.is_(True)
    )


def applicant_users(session: Session, borrower_id: int) -> list[User]:
    return list(session.scalars(select(User).where(_applicant(borrower_id))))


def officers(session: Session, institution_id: int) -> list[User]:
    return officers_of(session, {institution_id}).get(institution_id, [])


def officers_of(session: Session, institution_ids: Collection[int]) -> dict[int, list[User]]:
    """The active officers of each institution, in id order: `officers` for several at once."""
    staff: dict[int, list[User]] = {}
    for user in session.scalars(select(User).where(_officer(institution_ids)).order_by(User.id)):
        assert user.institution_id is not None
        staff.setdefault(user.institution_id, []).append(user)
    return staff


def _distinct(users: Iterable[User]) -> list[User]:
    """One per user, by id (as `notify` writes one notification per distinct user)."""
    return sorted({u.id: u for u in users}.values(), key=lambda u: u.id)


def _sms(session: Session, users: Iterable[User], kind: str, key: str, **params: object) -> None:
    body = SMS_TEXTS[kind].format(**params)
    for user in users:
        if user.phone:
            queue_message(
                session,
                channel="sms",
                to=user.phone,
                body=body,
                user_id=user.id,
                dedup_key=f"{key}:{user.id}",
            )


def _others(users: Iterable[User], actor_id: int | None) -> list[User]:
    return [u for u in users if u.id != actor_id]


def need_status_changed(session: Session, need: Need, event: StatusEvent, *, actor_id: int | None) -> None:
    """The applicant hears about every change of their need's status (or its dispatch)."""
    users = _others(applicant_users(session, need.borrower_id), actor_id)
    notify(session, [u.id for u in users], kind="need_status", event_id=event.id, need_id=need.id)
    if event.to_status == NeedStatus.DISBURSED and event.from_status != event.to_status:
        _sms(session, users, "need_disbursed", f"need_disbursed:{need.id}", need=need.id)


def lead_status_changed(session: Session, lead: Lead, event: StatusEvent, *, actor_id: int | None) -> None:
    """The applicant hears about every lead change; the claimant about its closing or release."""
    need = session.get(Need, lead.need_id)
    assert need is not None
    applicants = _others(applicant_users(session, need.borrower_id), actor_id)
    notify(
        session,
        [u.id for u in applicants],
        kind="lead_status",
        event_id=event.id,
        need_id=need.id,
        lead_id=lead.id,
    )
    if event.to_status == LeadStatus.CLAIMED:
        institution = session.get(Institution, lead.institution_id)
        assert institution is not None
        _sms(
            session,
            applicants,
            "lead_claimed",
            f"lead_claimed:{lead.id}",
            institution=institution.name,
            need=need.id,
        )
    released = (event.data or {}).get("kind") == "released"
    if lead.claimed_by is not None and lead.claimed_by != actor_id:
        if released:
            notify(
                session,
                [lead.claimed_by],
                kind="lead_released",
                event_id=event.id,
                need_id=need.id,
                lead_id=lead.id,
                data=event.data,
            )
        elif event.to_status == LeadStatus.CLOSED:
            notify(
                session,
                [lead.claimed_by],
                kind="lead_closed",
                event_id=event.id,
                need_id=need.id,
                lead_id=lead.id,
            )


@dataclass(frozen=True, slots=True)
class PushedLead:
    """A lead just pushed, its product's name and the id of its `pushed` event."""

    lead: Lead
    product_name: str
    event_id: int


def leads_pushed(session: Session, need: Need, pushed: Sequence[PushedLead]) -> None:
    """New leads of one need: for each, the applicant (in-app) and every officer of its institution
    (in-app and SMS). Written set-based: one INSERT of the notifications, one of the messages."""
    needs_pushed(session, [NeedPushed(need, pushed)])


@dataclass(frozen=True, slots=True)
class NeedPushed:
    """A need's new leads and, when its push changed the need (a new status or a timeline entry), the
    id of the need's own event, written after its leads' events."""

    need: Need
    leads: Sequence[PushedLead]
    need_event_id: int | None = None


def needs_pushed(session: Session, pushed: Sequence[NeedPushed]) -> None:
    """`leads_pushed` for many needs at once, each followed by what `need_status_changed` writes for
    its own event (the applicant, in-app; none of these events is a disbursement, so no SMS). The
    rows are those that telling the needs one after another writes, in the same order: one read of
    the users, one INSERT of the notifications, one of the messages and one of their delivery jobs."""
    told = [p for p in pushed if p.leads or p.need_event_id is not None]
    if not told:
        return
    borrower_ids = {p.need.borrower_id for p in told}
    institution_ids = {lead.lead.institution_id for p in told for lead in p.leads}
    users = session.scalars(
        select(User)
        .where(
            or_(
                User.borrower_id.in_(sorted(borrower_ids)) & User.active.is_(True),
                _officer(institution_ids),
            )
        )
        .order_by(User.id)
    ).all()
    applicants: dict[int, list[User]] = {}
    staff: dict[int, list[User]] = {}
    for user in users:
        if user.borrower_id in borrower_ids:
            applicants.setdefault(user.borrower_id, []).append(user)
        if user.role == Role.OFFICER and user.institution_id in institution_ids:
            staff.setdefault(user.institution_id, []).append(user)
    notifications: list[NewNotification] = []
    messages: list[NewMessage] = []
    for p in told:
        need = p.need
        told_applicants = _distinct(applicants.get(need.borrower_id, []))
        amount = f"{need.amount:.2f}"
        for pushed_lead in p.leads:
            lead = pushed_lead.lead
            event_id = pushed_lead.event_id
            notifications += [
                NewNotification(u.id, "lead_status", event_id, need.id, lead.id) for u in told_applicants
            ]
            team = _distinct(staff.get(lead.institution_id, []))
            data = {
                "amount": amount,
                "product": pushed_lead.product_name,
                "sla_due_at": lead.sla_due_at.isoformat() if lead.sla_due_at else None,
            }
            notifications += [
                NewNotification(u.id, "lead_pushed", event_id, need.id, lead.id, data) for u in team
            ]
            due = _local(lead.sla_due_at) if lead.sla_due_at else ""
            body = SMS_TEXTS["lead_pushed"].format(
                amount=wan(need.amount), product=pushed_lead.product_name, due=due
            )
            messages += [
                NewMessage("sms", u.phone, body, f"lead_pushed:{lead.id}:{u.id}", user_id=u.id)
                for u in team
                if u.phone
            ]
        if p.need_event_id is not None:
            notifications += [
                NewNotification(u.id, "need_status", p.need_event_id, need.id) for u in told_applicants
            ]
    add_notifications(session, notifications)
    queue_messages(session, messages)


def lead_stale(session: Session, lead: Lead, event: StatusEvent, *, hours: int) -> None:
    """A claimed lead without progress: the claimant and the institution's other officers."""
    staff = officers(session, lead.institution_id)
    ids = {u.id for u in staff} | ({lead.claimed_by} if lead.claimed_by else set())
    notify(
        session,
        ids,
        kind="lead_stale",
        event_id=event.id,
        need_id=lead.need_id,
        lead_id=lead.id,
        data={"hours": hours},
    )
    claimant = session.get(User, lead.claimed_by) if lead.claimed_by else None
    if claimant is not None:
        _sms(session, [claimant], "lead_stale", f"lead_stale:{lead.id}:{event.id}", lead=lead.id, hours=hours)


ALERT_NOTIFICATIONS = {"open_to_all": "need_open_to_all", "no_institutions": "need_no_institutions"}


def need_alerted(session: Session, need: Need, event: StatusEvent, *, region_code: str, kind: str) -> None:
    """The county finance office of the borrower, and the city office, hear about an alert in-app."""
    finance = session.scalars(
        select(User.id).where(
            User.role == Role.FINANCE,
            User.active.is_(True),
            or_(User.region_code == region_code, User.region_code == CITY_CODE),
        )
    )
    notify(
        session,
        list(finance),
        kind=ALERT_NOTIFICATIONS[kind],
        event_id=event.id,
        need_id=need.id,
        data=event.data,
    )


def renewal_reminder(session: Session, need: Need, *, threshold: int, days_left: int) -> bool:
    """Remind the applicant that a renewal must be applied for before the loan falls due; once per
    (need, threshold). Returns whether anything new was written."""
    assert need.renewal_matures_on is not None
    users = applicant_users(session, need.borrower_id)
    key = f"renewal:{need.id}:{threshold}"
    data = {"threshold": threshold, "days": days_left, "matures_on": need.renewal_matures_on.isoformat()}
    created = notify(
        session, [u.id for u in users], kind="renewal_reminder", need_id=need.id, data=data, dedup_key=key
    )
    _sms(
        session,
        users,
        "renewal_reminder",
        key,
        date=need.renewal_matures_on.strftime("%Y年%m月%d日"),
        days=days_left,
        need=need.id,
    )
    return bool(created)
