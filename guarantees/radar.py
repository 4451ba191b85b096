"""The maturity radar: every loan disbursed on the platform is reminded 60, 30 and 15 days before it
falls due (not only loans with a renewal need), offering 续贷 products, 无还本续贷 and the bridge funds,
so that a renewal or a bridge is arranged ahead of the due date instead of on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.i18n import N_
from core.models import Role, User
from core.notifications import notify, queue_message
from core.sql import add_months, add_months_py
from core.types import local_today
from guarantees.models import (
    BridgeApplication,
    BridgeStatus,
    Cover,
    CoverStatus,
    Scheme,
    SchemeKind,
    SchemeStatus,
)
from matching.models import Loan
from products.models import Institution, Product, ProductStatus

RADAR_DAYS = (60, 30, 15)
RADAR_KIND = "maturity_radar"
# Worded here like the SMS texts of matching.notices: the notification's `text` is shown as it is.
RADAR_TEXT = N_(
    "【吉惠通】您在{bank}的贷款{amount}元将于{date}到期（还有{days}天）。可提前申请续贷{renewal}；"
    "如需资金周转，可申请续贷周转金（{bridges}），须先取得银行书面续贷承诺。"
)
NO_RENEWAL_WAIVER = N_("（含无还本续贷）")


@dataclass(frozen=True)
class RadarHit:
    loan_id: int
    borrower_id: int
    matures_on: dt.date
    days_left: int
    threshold: int


def due_loans(session: Session, today: dt.date) -> list[RadarHit]:
    """Loans falling due within the widest threshold, each with the tightest threshold it has reached.
    Loans whose cover was released (repaid), defaulted, or that already have a bridge are left out."""
    horizon = today + dt.timedelta(days=max(RADAR_DAYS))
    matures = add_months(Loan.disbursed_on, Loan.term_months)
    settled = select(Cover.loan_id).where(
        Cover.loan_id.is_not(None),
        Cover.status.in_([CoverStatus.RELEASED, CoverStatus.DEFAULTED, CoverStatus.CLOSED]),
    )
    bridged = select(BridgeApplication.loan_id).where(
        BridgeApplication.loan_id.is_not(None), BridgeApplication.status != BridgeStatus.REFUSED
    )
    rows = session.execute(
        select(Loan.id, Loan.borrower_id, Loan.disbursed_on, Loan.term_months)
        .where(
            matures >= today,
            matures <= horizon,
            Loan.id.not_in(settled.scalar_subquery()),
            Loan.id.not_in(bridged.scalar_subquery()),
        )
        .order_by(Loan.id)
    ).all()
    hits = []
    for loan_id, borrower_id, disbursed_on, term in rows:
        matures_on = add_months_py(disbursed_on, term)
        days = (matures_on - today).days
        hits.append(RadarHit(loan_id, borrower_id, matures_on, days, min(t for t in RADAR_DAYS if days <= t)))
    return hits


def send_maturity_reminders(session: Session, *, today: dt.date | None = None) -> int:
    """Write the radar's reminders (in-app and SMS), each (loan, threshold) once. Returns how many new."""
    today = today or local_today()
    hits = due_loans(session, today)
    if not hits:
        return 0
    renewal_products = [
        (p.id, p.institution_id, p.name)
        for p in session.scalars(select(Product).where(Product.status == ProductStatus.PUBLISHED))
        if "renewal" in p.tags
    ]
    bridges = session.execute(
        select(Scheme.id, Scheme.name).where(
            Scheme.kind == SchemeKind.BRIDGE_FUND, Scheme.status == SchemeStatus.ACTIVE
        )
    ).all()
    written = 0
    for hit in hits:
        loan = session.get(Loan, hit.loan_id)
        assert loan is not None
        users = list(
            session.scalars(
                select(User).where(
                    User.borrower_id == hit.borrower_id, User.active.is_(True), User.role == Role.APPLICANT
                )
            )
        )
        bank = session.get(Institution, loan.institution_id)
        own = [name for pid, inst, name in renewal_products if inst == loan.institution_id]
        text = RADAR_TEXT.format(
            bank=bank.name if bank else "",
            amount=loan.amount,
            date=hit.matures_on.strftime("%Y年%m月%d日"),
            days=hit.days_left,
            renewal=("、".join(own) + NO_RENEWAL_WAIVER) if own else NO_RENEWAL_WAIVER,
            bridges="、".join(name for _id, name in bridges) or "—",
        )
        data = {
            "text": text,
            "loan_id": loan.id,
            "matures_on": hit.matures_on.isoformat(),
            "days": hit.days_left,
            "threshold": hit.threshold,
            "renewal_products": [pid for pid, inst, _n in renewal_products if inst == loan.institution_id],
            "bridge_schemes": [sid for sid, _n in bridges],
        }
        key = f"radar:{loan.id}:{hit.threshold}"
        written += len(notify(session, [u.id for u in users], kind=RADAR_KIND, data=data, dedup_key=key))
        for user in users:
            if user.phone:
                queue_message(
                    session,
                    channel="sms",
                    to=user.phone,
                    body=text,
                    user_id=user.id,
                    dedup_key=f"{key}:{user.id}",
                )
    return written
