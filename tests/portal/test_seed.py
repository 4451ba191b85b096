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


def test_demo_data_reads_as_a_real_loan_book(session):
    """Issue 14: what an analyst checks first, on the demo data."""
    from core.models import StatusEvent
    from core.reference import REASON_CODES
    from credit_profile.models import Borrower
    from matching.models import LoanPerformance, Need
    from portal.seed import COUNTY_OF_NAME

    seed(session)
    calendar = working_calendar(session)
    # Firms named after a county are filed under it.
    for name, region in session.execute(select(Borrower.name, Borrower.region_code)):
        for prefix, code in COUNTY_OF_NAME.items():
            if name.startswith(prefix):
                assert region == code, (name, region)
    # Farmers borrow, in the planting seasons.
    farmer_months = session.scalars(select(Loan.disbursed_on).where(Loan.borrower_kind == "farmer")).all()
    assert len(farmer_months) >= 5
    assert {day.month for day in farmer_months} <= {3, 4, 9, 10}
    # Every reason code a bank can give, renewals and overdue reports.
    codes = set(session.scalars(select(Lead.reason_code).where(Lead.status == LeadStatus.REJECTED)))
    assert codes >= set(REASON_CODES)
    assert session.scalar(select(func.count()).select_from(Loan).where(Loan.renewal_without_repayment))
    assert session.scalar(select(func.count()).select_from(LoanPerformance).where(LoanPerformance.overdue_30))
    # The steps of a loan are days apart, each in working time, and the copies follow the events.
    spans = []
    for loan in session.scalars(select(Loan)):
        lead = session.get(Lead, loan.lead_id)
        steps = session.scalars(
            select(StatusEvent.at).where(StatusEvent.entity_type == "lead", StatusEvent.entity_id == lead.id)
        ).all()
        assert lead.claimed_at == min(at for at in steps if at >= lead.pushed_at and at != lead.pushed_at)
        spans.append((max(steps) - min(steps)).days)
        for at in steps:
            local = at.astimezone(LOCAL)
            assert calendar.is_working_day(local.date()) and DAY_START <= local.time() <= DAY_END, local
        assert loan.disbursed_on == max(steps).astimezone(LOCAL).date()
    assert sorted(spans)[len(spans) // 2] >= 3  # the median loan takes days from push to disbursement
    assert session.scalar(select(func.count()).select_from(Need)) >= 50
