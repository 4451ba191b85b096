"""The demo data: loads twice without change, and its loans carry real dates in the past year or two."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.calendars import working_calendar
from core.types import local_today
from matching.models import Lead, LeadStatus, Loan
from matching.workhours import DAY_END, DAY_START, LOCAL
from portal.seed import seed
from stats.figures import summary
from stats.windows import Window

pytestmark = pytest.mark.smoke


def test_demo_loans_are_dated_and_counted(session):
    first = seed(session)
    assert seed(session) == first
    today = local_today()
    dates = session.scalars(select(Loan.disbursed_on)).all()
    assert dates, "the demo data has disbursed loans"
    for day in dates:
        assert isinstance(day, dt.date)
        assert today - dt.timedelta(days=800) <= day <= today
    year = summary(session, Window(today - dt.timedelta(days=365), today))
    assert year["loans"] == session.scalar(
        select(func.count(Loan.id)).where(Loan.disbursed_on >= today - dt.timedelta(days=365))
    )
    assert year["loans"] > 0
    assert year["median_hours_to_claim"] > 0.5  # claims take hours, as on the institutions' board
    # Every deadline an officer sees falls in working time, as dispatch computes it.
    deadlines = session.scalars(select(Lead.sla_due_at).where(Lead.status == LeadStatus.PUSHED)).all()
    assert deadlines
    calendar = working_calendar(session)
    for due in deadlines:
        local = due.astimezone(LOCAL)
        assert calendar.is_working_day(local.date()) and DAY_START <= local.time() <= DAY_END, local
