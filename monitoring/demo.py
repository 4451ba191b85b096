"""Demo data for post-loan monitoring: synthetic monitored loans with 30 months of data and monthly
performance reports, so that the warnings, the quality figures and the finance office's figures mean
something on a demo installation. Called once from portal.seed; does nothing if its loans exist.

Four kinds of loan, in peer groups of a county and an industry:
- steady: seasonal data with noise, repaid on time;
- going bad: electricity falls to about a third, bank inflow by 60 %, the tax grade to C then D, a
  few months after disbursement; 30 then 90 days overdue four and six months later;
- false alarm: electricity down 40-70 % for three months (a line being refitted), then back;
  repaid on time;
- silent default: nothing visible in the data, 90 days overdue all the same (what no rule can catch);
- dropping now: the fall starts in the last three months; no overdue report yet (open warnings).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.calendars import WorkCalendar, working_calendar
from core.events import record_event
from core.models import Role, User
from core.types import SHANGHAI, local_today
from credit_profile.consents import grant_consent
from credit_profile.features import period_index, period_label
from credit_profile.models import Borrower, ConsentPurpose, DataRecord
from matching.models import Lead, LeadStatus, Loan, LoanPerformance, Need, NeedStatus
from matching.workhours import add_working_hours
from monitoring.enrolment import MONITORING_PURPOSE_TEXT, MONITORING_SOURCES
from monitoring.models import EarlyWarning, WarningStatus
from monitoring.panels import HISTORY_MONITORING_MONTHS
from monitoring.warnings import monitor_all
from products.models import Institution, Product

DEMO_NAME = "贷后监测样本企业"
MONTHS = 30
ON_BOOK_MONTHS = 14
KINDS = (
    ("steady", 84),
    ("going_bad", 18),
    ("false_alarm", 12),
    ("silent_default", 4),
    ("dropping_now", 6),
)
GROUPS = (("360802", "C13"), ("360802", "F51"), ("360821", "C13"), ("360881", "C18"))
SYNTHETIC_NOTE = "（演示数据）"


def _money(value: float) -> Decimal:
    return Decimal(str(round(max(value, 0.0), 2)))


def _profile(
    kind: str, rng: random.Random
) -> tuple[list[float], list[float], list[str], list[bool], int | None]:
    """Electricity and inflow multipliers, tax grades and overdue bills per month, and the month index
    (from the first) of the first 90-days-overdue report, if any."""
    elec = [1.0] * MONTHS
    inflow = [1.0] * MONTHS
    grade = ["A" if rng.random() < 0.6 else "B"] * MONTHS
    bills = [False] * MONTHS
    default_at = None
    loan_month = MONTHS - ON_BOOK_MONTHS
    if kind == "going_bad":
        start = loan_month + rng.randint(1, 5)
        for t in range(start, MONTHS):
            k = min(t - start + 1, 3)
            elec[t] = 1.0 - 0.22 * k
            inflow[t] = 1.0 - 0.2 * k
            bills[t] = t - start >= 1 and rng.random() < 0.7
            grade[t] = "C" if t - start < 3 else "D"
        default_at = start + 6 + rng.randint(0, 1)
    elif kind == "false_alarm":
        start = loan_month + rng.randint(1, 5)
        depth = rng.uniform(0.3, 0.6)
        for t in range(start, min(start + 3, MONTHS)):
            elec[t] = depth
    elif kind == "silent_default":
        default_at = loan_month + rng.randint(5, 10)
    elif kind == "dropping_now":
        for t in range(MONTHS - 3, MONTHS):
            elec[t] = 1.0 - 0.25 * (t - MONTHS + 4)
            inflow[t] = 0.5
    return elec, inflow, grade, bills, default_at


def seed_monitoring(session: Session, *, seed: int = 20261206) -> dict[str, int]:
    """Create the demo's monitored loans (once) and run the monitoring job's work on each borrower."""
    if session.scalar(select(Borrower.id).where(Borrower.name.startswith(DEMO_NAME)).limit(1)):
        return {}
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not security
    banks = list(
        session.scalars(select(Institution).where(Institution.kind == "bank").order_by(Institution.id))
    )
    staff: dict[int, User] = {}
    for user in session.scalars(select(User).where(User.role == Role.OFFICER).order_by(User.id)):
        if user.institution_id is not None:
            staff.setdefault(user.institution_id, user)
    products: dict[int, Product] = {}
    for product in session.scalars(select(Product).order_by(Product.id)):
        products.setdefault(product.institution_id, product)
    banks = [b for b in banks if b.id in staff and b.id in products]
    if not banks:
        return {}
    today = local_today()
    calendar = working_calendar(session)
    last = period_index(f"{today:%Y-%m}") - 1
    first = last - MONTHS + 1
    periods = [period_label(first + i) for i in range(MONTHS)]
    loan_index = first + MONTHS - ON_BOOK_MONTHS
    year, month0 = divmod(loan_index, 12)
    disbursed_on = dt.date(year, month0 + 1, 10)
    kinds = [kind for kind, count in KINDS for _ in range(count)]
    rng.shuffle(kinds)
    borrower_ids = []
    for n, kind in enumerate(kinds, start=1):
        region, industry = GROUPS[n % len(GROUPS)]
        bank = banks[n % len(banks)]
        borrower = Borrower(
            kind="enterprise", name=f"{DEMO_NAME}{n:03d}{SYNTHETIC_NOTE}", region_code=region,
            industry_code=industry, employees=rng.randint(8, 120), synthetic=True,
        )  # fmt: skip
        session.add(borrower)
        session.flush()
        borrower_ids.append(borrower.id)
        expires = today + dt.timedelta(days=365)
        application = grant_consent(
            session, borrower_id=borrower.id, sources=MONITORING_SOURCES, purpose="融资需求匹配与授信参考",
            expires_on=expires, actor_id=None,
        )  # fmt: skip
        scale = rng.uniform(8_000, 60_000)
        amount = _money(round(scale * 11 * rng.uniform(1.5, 3.0), -4))
        _loan(session, borrower, bank, products[bank.id], staff[bank.id], disbursed_on, amount, calendar)
        grant_consent(
            session, borrower_id=borrower.id, sources=MONITORING_SOURCES, purpose=MONITORING_PURPOSE_TEXT,
            expires_on=expires, actor_id=None, purpose_code=ConsentPurpose.MONITORING, data_life_months=12,
            recipient_ids=[bank.id],
            period_from=period_label(loan_index - HISTORY_MONITORING_MONTHS),
        )  # fmt: skip
        elec, inflow, grade, bills, default_at = _profile(kind, rng)
        basis = application.id
        for t, period in enumerate(periods):
            season = 1 + 0.15 * math.sin((int(period[5:]) - 3) / 12 * 2 * math.pi)
            kwh = scale * season * elec[t] * rng.uniform(0.93, 1.07)
            sales = scale * 11 * season * elec[t] ** 0.7 * rng.uniform(0.9, 1.1)
            flow_in = sales * inflow[t] * rng.uniform(0.9, 1.1)
            session.add_all(
                [
                    DataRecord(
                        borrower_id=borrower.id, source="electricity", period=period, consent_id=basis,
                        kwh=_money(kwh), bill_amount=_money(kwh * 0.68), bill_overdue=bills[t],
                    ),
                    DataRecord(
                        borrower_id=borrower.id, source="tax", period=period, consent_id=basis,
                        sales=_money(sales), tax_paid=_money(sales * 0.03), credit_rating=grade[t],
                        arrears=grade[t] == "D",
                    ),
                    DataRecord(
                        borrower_id=borrower.id, source="bank_flow", period=period, consent_id=basis,
                        inflow=_money(flow_in), outflow=_money(flow_in * rng.uniform(0.85, 1.0)),
                        end_balance=_money(flow_in * rng.uniform(0.2, 0.6) * inflow[t]),
                    ),
                ]
            )  # fmt: skip
        loan = session.scalar(select(Loan).where(Loan.borrower_id == borrower.id))
        assert loan is not None
        for t in range(MONTHS - ON_BOOK_MONTHS + 1, MONTHS + 1):
            year, month0 = divmod(first + t, 12)
            as_of = dt.date(year, month0 + 1, 1) - dt.timedelta(days=1)
            late90 = default_at is not None and t >= default_at
            late30 = default_at is not None and t >= default_at - 2
            session.add(LoanPerformance(loan_id=loan.id, as_of=as_of, overdue_30=late30, overdue_90=late90))
    session.flush()
    opened = monitor_all(session)
    _history(session, opened, rng)
    return {"贷后监测样本贷款": len(borrower_ids), "贷后预警": len(opened)}


def _history(session: Session, warnings: list[EarlyWarning], rng: random.Random) -> None:
    """Give the demo's warnings a past: half were opened days ago, most of those acknowledged (one in
    four late), some actioned, so that the acknowledgement figures mean something."""
    for warning in warnings[::2]:
        days = rng.randint(3, 20)
        warning.opened_at -= dt.timedelta(days=days)
        warning.ack_due_at -= dt.timedelta(days=days)
        if rng.random() < 0.8:
            late = rng.random() < 0.25
            warning.acknowledged_at = warning.ack_due_at + dt.timedelta(
                hours=rng.randint(2, 30) * (1 if late else -1) / 4
            )
            warning.acknowledged_by = session.scalar(
                select(Lead.claimed_by).join(Loan, Loan.lead_id == Lead.id).where(Loan.id == warning.loan_id)
            )
            warning.status = WarningStatus.ACKNOWLEDGED
            if rng.random() < 0.5:
                warning.status = WarningStatus.ACTIONED
                warning.action = rng.choice(["contacted", "site_visit"])
                warning.action_note = "已电话联系借款人，了解到订单减少，正在协商续贷安排"
                warning.actioned_at = warning.acknowledged_at + dt.timedelta(days=1)
    session.flush()


def _loan(
    session: Session,
    borrower: Borrower,
    bank: Institution,
    product: Product,
    officer: User,
    disbursed_on: dt.date,
    amount: Decimal,
    calendar: WorkCalendar,
) -> Loan:
    """A loan with the history a real one has: pushed and claimed on a working morning about three
    weeks before disbursement, contacted and approved on later working days, disbursed on a working
    afternoon; each step a status event, as the officer's reports would have written it."""

    def working(day: dt.date) -> dt.date:
        while not calendar.is_working_day(day):
            day -= dt.timedelta(days=1)
        return day

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), SHANGHAI).astimezone(dt.UTC)

    disbursed_on = working(disbursed_on)
    pushed_day = working(disbursed_on - dt.timedelta(days=20))
    contacted_day = pushed_day + dt.timedelta(days=1)
    while not calendar.is_working_day(contacted_day):
        contacted_day += dt.timedelta(days=1)
    approved_day = working(disbursed_on - dt.timedelta(days=5))
    steps = [
        ("pushed", at(pushed_day, 10)),
        ("claimed", at(pushed_day, 12)),
        ("contacted", at(contacted_day, 10)),
        ("approved", at(approved_day, 14)),
        ("disbursed", at(disbursed_on, 15)),
    ]
    submitted = steps[0][1]
    need = Need(
        borrower_id=borrower.id, amount=amount, term_months=24, purpose="购买原材料、补充流动资金",
        collateral="credit", declared_prior_loan=False, status=NeedStatus.DISBURSED, dispatch_round=1,
        submitted_at=submitted, updated_at=steps[-1][1],
    )  # fmt: skip
    session.add(need)
    session.flush()
    lead = Lead(
        need_id=need.id, borrower_id=borrower.id, institution_id=bank.id, product_id=product.id,
        status=LeadStatus.DISBURSED, pushed_at=submitted, updated_at=steps[-1][1], claimed_at=steps[1][1],
        claimed_by=officer.id, contacted_at=steps[2][1], approved_at=steps[3][1], decided_at=steps[3][1],
        sla_due_at=add_working_hours(submitted, product.sla_hours, calendar=calendar),
    )  # fmt: skip
    session.add(lead)
    session.flush()
    previous = None
    for status, moment in steps:
        event = record_event(
            session, entity_type="lead", entity_id=lead.id, from_status=previous, to_status=status,
            actor_id=None if status == "pushed" else officer.id, need_id=need.id,
        )  # fmt: skip
        event.at = moment
        previous = status
    loan = Loan(
        lead_id=lead.id, need_id=need.id, borrower_id=borrower.id, institution_id=bank.id,
        product_id=product.id, amount=amount, rate=Decimal("4.20"), term_months=24, collateral="credit",
        disbursed_on=disbursed_on, first_loan_borrower=False, renewal_without_repayment=False,
    )  # fmt: skip
    session.add(loan)
    session.flush()
    return loan
