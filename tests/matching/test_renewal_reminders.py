"""Renewal reminders 60, 30 and 15 days before a declared renewal falls due, each once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.models import Notification, OutgoingMessage
from matching.loans import send_renewal_reminders
from matching.needs import RenewalInput, local_today, withdraw_need
from tests.matching.helpers import applicant, bank, submit


def _renewal_need(session, matures_in_days):
    bank()
    borrower, user = applicant()
    today = local_today()
    need = submit(
        session,
        borrower.id,
        user.id,
        renewal=RenewalInput(current_amount=500000, matures_on=today + dt.timedelta(days=matures_in_days)),
    )
    return need, user, today


def _reminders(session, user):
    return [
        n.data["threshold"]
        for n in session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.kind == "renewal_reminder")
            .order_by(Notification.id)
        )
    ]


def test_each_threshold_is_reminded_once_as_the_due_date_approaches(session):
    need, user, today = _renewal_need(session, 70)
    assert send_renewal_reminders(session, today=today) == 0  # more than 60 days out

    for day, expected in (
        (10, [60]),
        (11, [60]),
        (40, [60, 30]),
        (41, [60, 30]),
        (55, [60, 30, 15]),
        (69, [60, 30, 15]),
    ):
        send_renewal_reminders(session, today=today + dt.timedelta(days=day))
        assert _reminders(session, user) == expected, day

    sms = session.scalars(select(OutgoingMessage).where(OutgoingMessage.user_id == user.id)).all()
    assert len(sms) == 3
    assert all("无还本续贷须在贷款到期前申请办理" in m.body for m in sms)
    assert str(need.renewal_matures_on.year) in sms[0].body


def test_a_need_submitted_late_gets_only_the_tightest_threshold(session):
    _need, user, today = _renewal_need(session, 20)
    assert send_renewal_reminders(session, today=today) == 1
    assert _reminders(session, user) == [30]


def test_a_withdrawn_renewal_is_not_reminded(session):
    need, user, today = _renewal_need(session, 50)
    withdraw_need(session, need, actor_id=user.id)
    assert send_renewal_reminders(session, today=today) == 0
