"""Monitored loans (a disbursed loan whose lead an officer claimed, with a 贷后监测 consent) and warnings."""

from __future__ import annotations

import datetime as dt

import factory

from core.types import local_today, utcnow
from credit_profile.features import period_index, period_label
from monitoring.models import EarlyWarning
from tests.factories.base import Base
from tests.factories.core import UserFactory
from tests.factories.credit_profile import ConsentFactory
from tests.factories.matching import LeadFactory, LoanFactory


def months_back(back: int) -> str:
    return period_label(period_index(f"{local_today():%Y-%m}") - back)


def claimed_loan(*, borrower=None, months_on_book: int = 4, **loan):
    """A loan disbursed `months_on_book` months ago on a lead claimed by a new officer of its bank;
    returns (loan, officer)."""
    lead = LeadFactory(disbursed=True, loan=None, **({"need__borrower": borrower} if borrower else {}))
    officer = UserFactory(officer=True, institution_id=lead.institution_id)
    lead.claimed_by = officer.id
    disbursed = local_today().replace(day=1) - dt.timedelta(days=30 * months_on_book - 15)
    return LoanFactory(lead=lead, disbursed_on=disbursed, **loan), officer


def monitoring_consent(loan, **kwargs):
    """An active 贷后监测 consent for the loan's bank, covering two years before disbursement onwards."""
    values = {
        "borrower_id": loan.borrower_id,
        "purpose": "贷后监测",
        "purpose_code": "monitoring",
        "recipient_ids": [loan.institution_id],
        "period_from": months_back(30),
    }
    values.update(kwargs)
    return ConsentFactory(**values)


class EarlyWarningFactory(Base):
    class Meta:
        model = EarlyWarning

    class Params:
        loan = factory.SubFactory(LoanFactory)
        red = factory.Trait(level="red")

    loan_id = factory.SelfAttribute("loan.id")
    borrower_id = factory.SelfAttribute("loan.borrower_id")
    institution_id = factory.SelfAttribute("loan.institution_id")
    region_code = factory.SelfAttribute("loan.region_code")
    level = "yellow"
    period = factory.LazyFunction(lambda: months_back(1))
    rule_codes = factory.LazyFunction(lambda: ["elec_drop"])
    evidence = factory.LazyFunction(
        lambda: [
            {"rule": "elec_drop", "level": "yellow", "text": "近3个月用电量 2,100 千瓦时，同比下降 30.0%"}
        ]
    )
    status = "open"
    opened_at = factory.LazyFunction(utcnow)
    ack_due_at = factory.LazyFunction(lambda: utcnow() + dt.timedelta(days=2))
