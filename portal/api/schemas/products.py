"""Schemas of loan products and the supermarket's filters."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Decimal, Integer, List, Nested, String
from apiflask.validators import Length
from marshmallow import RAISE

from core.i18n import N_
from core.reference import (
    BORROWER_KINDS,
    COLLATERAL_KINDS,
    PRODUCT_TAGS,
)
from portal.api.schemas.accounts import InstitutionRef
from portal.api.schemas.base import In, PageOut, PageQuery, choice, int_range, money, money_out, text


class ProductQuery(PageQuery):
    region_code = String(validate=Length(max=6))
    borrower_kind = String(validate=Length(max=24))
    amount = Decimal(allow_nan=False)
    tag = String(validate=Length(max=16))
    institution = String(validate=Length(max=32))
    collateral = String(validate=Length(max=16))


class ProductFields(In):
    name = text(128)
    description = String(validate=Length(max=2000, error=N_("描述最多 2000 字")))
    min_amount = money()
    max_amount = money()
    min_term_months = int_range(1, 360)
    max_term_months = int_range(1, 360)
    rate_min = money()
    rate_max = money()
    collateral = List(
        choice(COLLATERAL_KINDS), validate=Length(min=1, max=4, error=N_("至少选择一种担保方式"))
    )
    borrower_kinds = List(choice(BORROWER_KINDS), validate=Length(min=1, max=3, error=N_("至少选择一类客户")))
    region_codes = List(String(validate=Length(max=6)), validate=Length(max=14))
    industries_excluded = List(String(validate=Length(max=8)), validate=Length(max=40))
    min_score = int_range(300, 900, allow_none=True)
    tags = List(choice(PRODUCT_TAGS), validate=Length(max=6))
    sla_hours = int_range(1, 240)
    follow_up_hours = int_range(1, 240)


class ProductCreateIn(ProductFields):
    class Meta:
        unknown = RAISE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("name", "min_amount", "max_amount", "min_term_months", "max_term_months", "rate_min",
                     "rate_max", "collateral", "borrower_kinds"):  # fmt: skip
            self.fields[name].required = True


class ProductOut(Schema):
    id = Integer()
    institution = Nested(InstitutionRef)
    name = String()
    description = String()
    min_amount = money_out()
    max_amount = money_out()
    min_term_months = Integer()
    max_term_months = Integer()
    rate_min = money_out()
    rate_max = money_out()
    collateral = List(String())
    borrower_kinds = List(String())
    region_codes = List(String())
    industries_excluded = List(String())
    min_score = Integer(allow_none=True)
    tags = List(String())
    sla_hours = Integer()
    follow_up_hours = Integer()
    status = String()


class ProductItem(ProductOut):
    """ProductOut as a list item (a class of its own so that the OpenAPI document names it once)."""


class ProductPage(PageOut):
    items = List(Nested(ProductItem))
