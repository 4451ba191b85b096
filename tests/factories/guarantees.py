"""Schemes (a 4321-style guarantee scheme, a 科贷通-style compensation fund, a bridge fund) and covers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from core.sql import add_months_py
from core.types import local_today, utcnow
from guarantees.models import BridgeApplication, Cover, CoverStatus, Scheme
from matching.models import Lead
from tests.factories.base import Base
from tests.factories.matching import LoanFactory
from tests.factories.products import InstitutionFactory

SHARES_4321 = {"bank": "0.20", "guarantor": "0.40", "reguarantor": "0.30", "fund": "0.10"}
BRIDGE_TIERS = [{"up_to_day": 5, "daily_rate": "0.0002"}, {"up_to_day": None, "daily_rate": "0.0004"}]


class SchemeFactory(Base):
    """A 4321 guarantee scheme by default; traits `fund` (bank 50 %, fund 50 %, 10× a ¥1亿 fund) and
    `bridge` (95 % of the commitment, 10 days, 0.02 %/day for 5 days then 0.04 %/day, pause at 40 %)."""

    class Meta:
        model = Scheme

    class Params:
        operator = factory.SubFactory(InstitutionFactory, kind="guarantor")
        fund = factory.Trait(
            kind="compensation_fund",
            loss_shares={"bank": "0.50", "fund": "0.50"},
            leverage_limit=Decimal("10"),
            capital=Decimal("100000000.00"),
            funding_shares={"city": "0.25", "county": "0.75"},
        )
        bridge = factory.Trait(
            kind="bridge_fund",
            capital=Decimal("10000000.00"),
            single_cap=Decimal("10000000.00"),
            loss_shares={"fund": "1"},
            bridge_max_ratio=Decimal("0.95"),
            bridge_max_days=10,
            fee_tiers=BRIDGE_TIERS,
            pause_overdue_ratio=Decimal("0.40"),
        )

    code = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"测试担保方案{n}")
    kind = "guarantee"
    sponsor = "吉安市财政局"
    funding_shares = factory.LazyFunction(dict)
    operator_id = factory.SelfAttribute("operator.id")
    capital = Decimal("200000000.00")
    leverage_limit = Decimal("15")
    loss_shares = factory.LazyFunction(lambda: dict(SHARES_4321))
    tenor_bands = factory.LazyFunction(list)
    covers_interest = False
    fee_rate_cap = Decimal("0.01")
    single_cap = Decimal("20000000.00")
    comp_cap_rate = Decimal("0.05")
    filing_deadline_days = 30
    claim_deadline_days = 90
    decision_sla_hours = 16
    eligibility = factory.LazyFunction(dict)
    fee_tiers = factory.LazyFunction(list)


class CoverFactory(Base):
    """An active cover on a disbursed loan (pass `scheme=`, `loan=`); trait `requested` for one asked for."""

    class Meta:
        model = Cover

    class Params:
        scheme = factory.SubFactory(SchemeFactory)
        loan = factory.SubFactory(LoanFactory)
        requested = factory.Trait(
            status=CoverStatus.REQUESTED, loan_id=None, activated_on=None, matures_on=None, filing_due_on=None
        )

    scheme_id = factory.SelfAttribute("scheme.id")
    operator_id = factory.SelfAttribute("scheme.operator_id")
    lead_id = factory.SelfAttribute("loan.lead_id")
    loan_id = factory.SelfAttribute("loan.id")
    institution_id = factory.SelfAttribute("loan.institution_id")
    borrower_id = factory.SelfAttribute("loan.borrower_id")
    region_code = factory.SelfAttribute("loan.region_code")
    amount = factory.SelfAttribute("loan.amount")
    term_months = factory.SelfAttribute("loan.term_months")
    fee_rate = Decimal("0.0080")
    status = CoverStatus.ACTIVE
    requested_at = factory.LazyFunction(lambda: utcnow() - dt.timedelta(days=1))
    decision_due_at = factory.LazyFunction(utcnow)
    activated_on = factory.SelfAttribute("loan.disbursed_on")
    matures_on = factory.LazyAttribute(lambda o: add_months_py(o.loan.disbursed_on, o.loan.term_months))
    filing_due_on = factory.LazyFunction(lambda: local_today() + dt.timedelta(days=30))


def requested_cover(lead: Lead, scheme: Scheme) -> Cover:
    """A cover asked for on a lead (no loan yet), as `covers.request_cover` writes it."""
    session = SchemeFactory._meta.sqlalchemy_session
    cover = Cover(
        scheme_id=scheme.id, operator_id=scheme.operator_id, lead_id=lead.id, institution_id=lead.institution_id,
        borrower_id=lead.borrower_id, region_code=lead.region_code, amount=Decimal("200000.00"), term_months=12,
        fee_rate=Decimal("0.008"), status=CoverStatus.REQUESTED, decision_due_at=utcnow() + dt.timedelta(hours=8),
    )  # fmt: skip
    session.add(cover)
    session.flush()
    return cover


def submitted_bridge(
    scheme: Scheme, *, borrower_id: int, institution_id: int, region_code: str
) -> BridgeApplication:
    """A bridge application waiting for the bank's commitment."""
    session = SchemeFactory._meta.sqlalchemy_session
    app = BridgeApplication(
        scheme_id=scheme.id, borrower_id=borrower_id, region_code=region_code, institution_id=institution_id,
        contract_no="MATRIX-1", maturing_principal=Decimal("300000.00"),
        matures_on=local_today() + dt.timedelta(days=10), amount=Decimal("250000.00"),
    )  # fmt: skip
    session.add(app)
    session.flush()
    return app
