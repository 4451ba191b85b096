"""Borrowers, their consents, the data records held under them and their scores."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from credit_profile.models import Borrower, Consent, CreditScore, DataRecord
from tests.factories.base import Base, make_id_number, make_uscc


class BorrowerFactory(Base):
    class Meta:
        model = Borrower

    kind = "enterprise"
    name = factory.Sequence(lambda n: f"吉安测试企业{n}有限公司")
    uscc = factory.LazyFunction(make_uscc)
    id_number = None
    region_code = "360802"
    industry_code = "C"
    employees = 12

    class Params:
        farmer = factory.Trait(
            kind="farmer", uscc=None, id_number=factory.LazyFunction(make_id_number), industry_code="A"
        )


class ConsentFactory(Base):
    class Meta:
        model = Consent

    sources = factory.LazyFunction(lambda: ["electricity", "tax", "bank_flow"])
    purpose = "融资需求匹配"
    status = "active"
    expires_on = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=365))
    text_version = "2026-11-v1"
    text_hash = "0" * 64


# What a provider reports for a month, per source (the demo's typical small business).
RECORD_VALUES = {
    "electricity": {"kwh": Decimal("1000.00"), "bill_amount": Decimal("680.00")},
    "tax": {
        "sales": Decimal("50000.00"),
        "tax_paid": Decimal("1500.00"),
        "credit_rating": "A",
        "arrears": False,
    },
    "bank_flow": {
        "inflow": Decimal("60000.00"),
        "outflow": Decimal("50000.00"),
        "end_balance": Decimal("20000.00"),
    },
}


class DataRecordFactory(Base):
    """One month of one source; the source's typical values unless given (``tax=True``, ``bank_flow=True``)."""

    class Meta:
        model = DataRecord

    source = "electricity"
    period = "2026-01"
    consent_id = None
    kwh = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("kwh"))
    bill_amount = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("bill_amount"))
    sales = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("sales"))
    tax_paid = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("tax_paid"))
    credit_rating = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("credit_rating"))
    arrears = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("arrears"))
    inflow = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("inflow"))
    outflow = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("outflow"))
    end_balance = factory.LazyAttribute(lambda o: RECORD_VALUES[o.source].get("end_balance"))

    class Params:
        tax = factory.Trait(source="tax")
        bank_flow = factory.Trait(source="bank_flow")


class CreditScoreFactory(Base):
    class Meta:
        model = CreditScore

    score = 600
    grade = "C"
    reasons = factory.LazyFunction(list)
    # A score rests on data (credit_profile.scoring.has_data); the `no_data` trait is one computed from
    # nothing, which matching and the credit page treat as no score.
    sources = factory.LazyFunction(lambda: {"tax": {"months": 12, "gaps": 0, "consented": True}})
    model_version = "t"

    class Params:
        no_data = factory.Trait(sources=factory.LazyFunction(dict))
