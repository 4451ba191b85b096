"""Synthetic demo data for government credit enhancement: the city's guarantee company (its existing
institution), a provincial re-guarantor, a 科贷通-style compensation fund, a bridge fund (新庐陵转贷
style), their staff, covers on the demo's loans with a few defaults, 代偿, claims and recoveries, and
bridge applications at every step. Idempotent: a second run finds the schemes and adds nothing.
Called from portal/seed.py after the lending demo data."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts import create_user
from core.models import Role, User
from core.types import local_today
from guarantees import bridges, covers, defaults
from guarantees.models import BridgeApplication, Compensation, Cover, CoverStatus, DefaultReport, Scheme
from guarantees.schemes import SchemeInput, create_scheme, link_products
from matching.models import Lead, LeadStatus, Loan
from products.models import Institution, Product
from products.services import create_institution

SYNTHETIC = "（演示数据）"
GUARANTOR = ("JAGUAR", "吉安市融资担保集团有限公司")
REGUARANTOR = ("JXRG", "江西省融资再担保有限责任公司")
FUND_MANAGER = ("JAKDT", "吉安市科技局科贷通资金管理中心")
BRIDGE_OPERATOR = ("JAXLL", "吉安市新庐陵转贷服务有限公司")
TIERS: list[dict[str, Any]] = [
    {"up_to_day": 5, "daily_rate": "0.0002"},
    {"up_to_day": None, "daily_rate": "0.0004"},
]


def _institution(session: Session, code: str, name: str) -> Institution:
    found = session.scalar(select(Institution).where(Institution.code == code))
    return found or create_institution(session, code=code, name=name, kind="guarantor")


def _staff(session: Session, username: str, institution: Institution, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    return user or create_user(
        session, username=username, password=password, role=Role.GUARANTOR, institution_id=institution.id
    )


def _schemes(session: Session, operators: dict[str, Institution]) -> dict[str, Scheme]:
    common: dict[str, Any] = {
        "fee_rate_cap": Decimal("0.01"),
        "filing_deadline_days": 30,
        "claim_deadline_days": 90,
    }
    inputs = {
        "JA4321": SchemeInput(
            code="JA4321",
            name="吉安“4321”政银担风险分担" + SYNTHETIC,
            kind="guarantee",
            sponsor="吉安市财政局",
            operator_code=GUARANTOR[0],
            capital=Decimal("1000000000.00"),
            leverage_limit=Decimal("15"),
            loss_shares={"bank": "0.20", "guarantor": "0.40", "reguarantor": "0.30", "fund": "0.10"},
            single_cap=Decimal("20000000.00"),
            comp_cap_rate=Decimal("0.05"),
            funding_shares={"city": "0.6", "county": "0.4"},
            decision_sla_hours=16,
            **common,
        ),
        "KDT": SchemeInput(
            code="KDT",
            name="科贷通风险补偿资金" + SYNTHETIC,
            kind="compensation_fund",
            sponsor="吉安市科技局、市财政局",
            operator_code=FUND_MANAGER[0],
            capital=Decimal("100000000.00"),
            leverage_limit=Decimal("10"),
            loss_shares={"bank": "0.50", "fund": "0.50"},
            single_cap=Decimal("5000000.00"),
            comp_cap_rate=Decimal("0.05"),
            funding_shares={"city": "0.25", "county": "0.75"},
            eligibility={"borrower_kinds": ["enterprise"]},
            **common,
        ),
        "XLLZD": SchemeInput(
            code="XLLZD",
            name="新庐陵续贷周转金" + SYNTHETIC,
            kind="bridge_fund",
            sponsor="吉安市人民政府金融工作办公室",
            operator_code=BRIDGE_OPERATOR[0],
            capital=Decimal("50000000.00"),
            leverage_limit=Decimal("1"),
            loss_shares={"fund": "1"},
            single_cap=Decimal("10000000.00"),
            comp_cap_rate=Decimal("1"),
            bridge_max_ratio=Decimal("0.95"),
            bridge_max_days=10,
            fee_tiers=TIERS,
            pause_overdue_ratio=Decimal("0.40"),
            **common,
        ),
    }
    return {code: create_scheme(session, data, actor_id=None) for code, data in inputs.items()}


def _covers(session: Session, scheme: Scheme, leads: list[Lead]) -> list[Cover]:
    made = []
    for lead in leads:
        officer = session.scalar(
            select(User)
            .where(User.institution_id == lead.institution_id, User.role == Role.OFFICER)
            .order_by(User.id)
        )
        if officer is None:
            continue
        try:
            cover = covers.request_cover(
                session,
                lead.id,
                scheme.id,
                officer_id=officer.id,
                institution_id=lead.institution_id,
                fee_rate=Decimal("0.008"),
            )
        except Exception:  # noqa: S112 - a demo lead the scheme does not fit is skipped
            continue
        made.append(cover)
    return made


def seed_guarantees(session: Session, *, password: str) -> dict[str, int]:
    """Load the guarantee demo (idempotent); returns how many schemes, covers and bridges exist."""
    if session.scalar(select(Scheme.id).where(Scheme.code == "JA4321")) is None:
        _load(session, password)
    return {
        "担保与补偿方案": session.scalar(select(func.count()).select_from(Scheme)) or 0,
        "担保/补偿覆盖": session.scalar(select(func.count()).select_from(Cover)) or 0,
        "代偿": session.scalar(select(func.count()).select_from(DefaultReport)) or 0,
        "周转金申请": session.scalar(select(func.count()).select_from(BridgeApplication)) or 0,
    }


def _load(session: Session, password: str) -> None:
    operators = {
        code: _institution(session, code, name)
        for code, name in (GUARANTOR, REGUARANTOR, FUND_MANAGER, BRIDGE_OPERATOR)
    }
    guarantor = _staff(session, "jaguar_guarantor", operators[GUARANTOR[0]], password)
    _staff(session, "jxrg_guarantor", operators[REGUARANTOR[0]], password)
    fund_staff = _staff(session, "kdt_operator", operators[FUND_MANAGER[0]], password)
    bridge_staff = _staff(session, "xll_operator", operators[BRIDGE_OPERATOR[0]], password)
    schemes = _schemes(session, operators)
    products = list(
        session.scalars(select(Product.id).where(Product.institution_id == operators[GUARANTOR[0]].id))
    )
    renewal = list(
        session.scalars(select(Product.id).where(Product.tags.is_not(None)).order_by(Product.id).limit(6))
    )
    link_products(session, schemes["JA4321"], products + renewal[:3])
    link_products(session, schemes["KDT"], renewal[3:5])

    disbursed = list(
        session.scalars(select(Lead).where(Lead.status == LeadStatus.DISBURSED).order_by(Lead.id).limit(14))
    )
    approved = list(
        session.scalars(select(Lead).where(Lead.status == LeadStatus.APPROVED).order_by(Lead.id).limit(3))
    )
    guaranteed = _covers(session, schemes["JA4321"], disbursed[:10] + approved[:2])
    funded = _covers(session, schemes["KDT"], disbursed[10:])
    for cover in guaranteed[:8]:
        covers.decide_cover(
            session, cover.id, approve=True, reason=None, user_id=guarantor.id, operator_id=cover.operator_id
        )
    for cover in funded:
        covers.decide_cover(
            session, cover.id, approve=True, reason=None, user_id=fund_staff.id, operator_id=cover.operator_id
        )
    active = [c for c in guaranteed[:8] if c.status == CoverStatus.ACTIVE]
    filable = [c.id for c in active[:5] if c.filing_due_on and c.filing_due_on >= local_today()]
    if filable:
        covers.file_covers(session, filable, operator_id=active[0].operator_id, user_id=guarantor.id)
    today = local_today()
    for n, cover in enumerate([*active[5:8], *[c for c in funded if c.status == CoverStatus.ACTIVE][:1]]):
        loan = session.get(Loan, cover.loan_id)
        assert loan is not None
        officer = session.scalar(
            select(User)
            .where(User.institution_id == cover.institution_id, User.role == Role.OFFICER)
            .order_by(User.id)
        )
        assert officer is not None
        # A small unpaid part, within the bank's 5 % compensation cap on a small demo portfolio.
        principal = (loan.amount * Decimal("0.04")).quantize(Decimal("0.01"))
        interest = (principal * Decimal("0.012")).quantize(Decimal("0.01"))  # within the plausible limit
        report = defaults.report_default(
            session,
            cover.id,
            defaults.DefaultInput(max(loan.disbursed_on, today), principal, interest, Decimal("0")),
            institution_id=cover.institution_id,
            user_id=officer.id,
        )
        staff = guarantor if cover.scheme_id == schemes["JA4321"].id else fund_staff
        if n == 0:
            continue  # one default still waiting for 代偿
        for _round in range(2):
            for due in session.scalars(
                select(Compensation).where(
                    Compensation.default_id == report.id, Compensation.paid_on.is_(None)
                )
            ).all():
                if _round == 1 and n == 2:
                    break  # one claim on the fund still pending
                defaults.record_payment(
                    session,
                    due.id,
                    operator_id=cover.operator_id,
                    user_id=staff.id,
                    paid_on=today,
                    amount=due.amount_due,
                )
        if n == 1:
            defaults.record_recovery(
                session,
                cover.id,
                operator_id=cover.operator_id,
                user_id=staff.id,
                amount=(report.loss * Decimal("0.3")).quantize(Decimal("0.01")),
                recovered_on=today,
                method="counter_guarantee",
            )
    _bridges(session, schemes["XLLZD"], bridge_staff)


def _bridges(session: Session, fund: Scheme, staff: User) -> None:
    loans = list(session.scalars(select(Loan).order_by(Loan.id.desc()).limit(5)))
    today = local_today()
    for n, loan in enumerate(loans):
        applicant = session.scalar(select(User).where(User.borrower_id == loan.borrower_id))
        officer = session.scalar(
            select(User)
            .where(User.institution_id == loan.institution_id, User.role == Role.OFFICER)
            .order_by(User.id)
        )
        if applicant is None or officer is None:
            continue
        amount = (loan.amount * Decimal("0.9")).quantize(Decimal("0.01"))
        app = bridges.apply_for_bridge(
            session,
            bridges.BridgeRequest(
                scheme_id=fund.id,
                amount=amount,
                institution_code=session.get(Institution, loan.institution_id).code,  # type: ignore[union-attr]
                contract_no=f"JA-DEMO-{loan.id:05d}",
                maturing_principal=loan.amount,
                matures_on=today + dt.timedelta(days=3 + n),
            ),
            borrower_id=loan.borrower_id,
            user_id=applicant.id,
        )
        if n == 0:
            continue  # waiting for the bank's commitment
        digest = hashlib.sha256(f"demo-commitment-{loan.id}".encode()).hexdigest()
        bridges.record_commitment(
            session,
            app.id,
            bridges.Commitment(loan.amount, today + dt.timedelta(days=2), "王行长（演示）", digest),
            institution_id=loan.institution_id,
            user_id=officer.id,
        )
        if n == 1:
            continue  # committed, waiting for approval
        bridges.approve_bridge(session, app.id, operator_id=fund.operator_id, user_id=staff.id)
        out = today - dt.timedelta(days=(3, 7, 12)[n - 2])
        app.approved_on = out
        bridges.disburse_bridge(session, app.id, operator_id=fund.operator_id, user_id=staff.id, on=out)
        if n == 2:
            continue  # out for 3 days: the clock runs
        bridges.record_old_loan_repaid(
            session,
            app.id,
            institution_id=loan.institution_id,
            user_id=officer.id,
            on=out + dt.timedelta(days=1),
        )
        if n == 4:
            continue  # overdue once the sweep runs: the bank has not renewed
        bridges.record_renewal(
            session,
            app.id,
            institution_id=loan.institution_id,
            user_id=officer.id,
            on=out + dt.timedelta(days=5),
            amount=loan.amount,
        )
        bridges.return_bridge(session, app.id, operator_id=fund.operator_id, user_id=staff.id, on=today)
    bridges.sweep_overdue(session, today=today)
