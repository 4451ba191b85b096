"""Institutions and their products."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from products.models import Institution, Product
from tests.factories.base import Base


class InstitutionFactory(Base):
    class Meta:
        model = Institution

    code = factory.Sequence(lambda n: f"BANK{n:04d}")
    name = factory.Sequence(lambda n: f"测试银行{n}号")
    kind = "bank"


class ProductFactory(Base):
    class Meta:
        model = Product

    institution = factory.SubFactory(InstitutionFactory)
    name = factory.Sequence(lambda n: f"测试贷{n}")
    description = ""
    min_amount = Decimal("10000.00")
    max_amount = Decimal("3000000.00")
    min_term_months = 1
    max_term_months = 36
    rate_min = Decimal("3.45")
    rate_max = Decimal("6.00")
    collateral = factory.LazyFunction(lambda: ["credit", "guarantee", "mortgage", "pledge"])
    borrower_kinds = factory.LazyFunction(lambda: ["enterprise", "individual_business", "farmer"])
    region_codes = factory.LazyFunction(list)
    industries_excluded = factory.LazyFunction(list)
    min_score = None
    tags = factory.LazyFunction(lambda: ["first_loan"])
    sla_hours = 8
    status = "draft"

    class Params:
        published = factory.Trait(
            status="published", published_at=factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
        )
