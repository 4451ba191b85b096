"""factory_boy factories with traits; they go through the same constraints as the services."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import factory
from sqlalchemy.orm import Session

from core.accounts import hash_password
from core.identifiers import id_check_char, uscc_check_char
from core.models import Role, User
from credit_profile.models import Borrower, Consent
from products.models import Institution, Product

_counter = itertools.count(1)
PASSWORD = "Passw0rd!demo"
_PASSWORD_HASH = hash_password(PASSWORD)


def make_uscc(n: int | None = None) -> str:
    n = next(_counter) if n is None else n
    first17 = f"91360802{n:09d}"
    return first17 + uscc_check_char(first17)


def make_id_number(n: int | None = None) -> str:
    n = next(_counter) if n is None else n
    first17 = f"36082119800101{n % 1000:03d}"
    return first17 + id_check_char(first17)


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


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


class UserFactory(Base):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = _PASSWORD_HASH
    role = Role.APPLICANT.value
    phone = "13800000000"

    class Params:
        officer = factory.Trait(role=Role.OFFICER.value)
        product_manager = factory.Trait(role=Role.PRODUCT_MANAGER.value)
        finance = factory.Trait(role=Role.FINANCE.value, region_code="360800")
        admin = factory.Trait(role=Role.ADMIN.value)


class ConsentFactory(Base):
    class Meta:
        model = Consent

    sources = factory.LazyFunction(lambda: ["electricity", "tax", "bank_flow"])
    purpose = "融资需求匹配"
    status = "active"
    expires_on = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=365))
    text_version = "2026-11-v1"
    text_hash = "0" * 64


def bind_factories(session: Session) -> None:
    for cls in (InstitutionFactory, ProductFactory, BorrowerFactory, UserFactory, ConsentFactory):
        cls._meta.sqlalchemy_session = session
