"""The maturity radar: every platform loan is reminded at 60/30/15 days, once each, offering 续贷 and
the bridge funds; repaid (released) loans are left out."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.models import Notification, OutgoingMessage
from core.sql import add_months_py
from core.types import local_today
from guarantees.models import CoverStatus
from guarantees.radar import send_maturity_reminders
from products.models import Institution
from tests.factories import CoverFactory, LoanFactory, ProductFactory, SchemeFactory, UserFactory


def _loan_due_in(days: int, **kwargs):
    # A 12-month loan disbursed so that it falls due `days` from today.
    due = local_today() + dt.timedelta(days=days)
    disbursed = due.replace(year=due.year - 1)
    loan = LoanFactory(disbursed_on=disbursed, term_months=12, **kwargs)
    assert add_months_py(loan.disbursed_on, 12) == due
    return loan


def test_each_threshold_once_with_the_offers(session) -> None:
    fund = SchemeFactory(bridge=True, name="新庐陵转贷")
    loan = _loan_due_in(25)
    bank = session.get(Institution, loan.institution_id)
    renewal = ProductFactory(published=True, institution=bank, tags=["renewal"], name="续贷通")
    user = UserFactory(borrower_id=loan.borrower_id)
    far = _loan_due_in(75)
    UserFactory(borrower_id=far.borrower_id)

    assert send_maturity_reminders(session) == 1
    assert send_maturity_reminders(session) == 0
    note = session.scalar(select(Notification).where(Notification.user_id == user.id))
    assert note.kind == "maturity_radar"
    assert note.data["threshold"] == 30 and note.data["days"] == 25
    assert note.data["renewal_products"] == [renewal.id]
    assert note.data["bridge_schemes"] == [fund.id]
    assert "续贷通" in note.data["text"] and "新庐陵转贷" in note.data["text"]
    assert (
        session.scalar(select(OutgoingMessage.body).where(OutgoingMessage.user_id == user.id))
        == note.data["text"]
    )
    # Ten days later the 15-day reminder goes out too.
    assert send_maturity_reminders(session, today=local_today() + dt.timedelta(days=10)) == 1


def test_repaid_loans_are_left_out(session) -> None:
    loan = _loan_due_in(10)
    UserFactory(borrower_id=loan.borrower_id)
    CoverFactory(loan=loan, status=CoverStatus.RELEASED)
    assert send_maturity_reminders(session) == 0
