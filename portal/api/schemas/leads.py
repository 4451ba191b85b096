"""Schemas of leads, their transitions, loans and repayment performance."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length
from marshmallow import ValidationError, validates_schema

from core.i18n import N_
from core.reference import (
    COLLATERAL_KINDS,
    REASON_CODES,
)
from portal.api.schemas.accounts import BorrowerOut, InstitutionRef
from portal.api.schemas.base import MAX_TEXT, In, PageOut, PageQuery, choice, int_range, money, money_out
from portal.api.schemas.needs import ProductRef


class LeadQuery(PageQuery):
    status = choice(
        ("pushed", "claimed", "contacted", "approved", "disbursed", "rejected", "expired", "closed")
    )


class LoanIn(In):
    amount = money(required=True)
    rate = money(required=True)
    term_months = int_range(1, 360, required=True)
    collateral = choice(COLLATERAL_KINDS, required=True)
    disbursed_on = Date(required=True)
    first_loan_borrower = Boolean(required=True)
    renewal_without_repayment = Boolean(required=True)


class TransitionIn(In):
    to = choice(("contacted", "approved", "rejected", "disbursed"), required=True)
    reason_code = choice(REASON_CODES, allow_none=True)
    note = String(validate=Length(max=MAX_TEXT, error=N_("备注最多 500 字")), allow_none=True)
    loan = Nested(LoanIn, allow_none=True)

    @validates_schema
    def _loan_when_disbursed(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("to") == "disbursed" and not data.get("loan"):
            raise ValidationError(N_("放款时必须填写贷款信息"), field_name="loan")
        if data.get("to") == "rejected" and not data.get("reason_code"):
            raise ValidationError(N_("拒绝时必须选择原因"), field_name="reason_code")


class PerformanceIn(In):
    as_of = Date(required=True)
    overdue_30 = Boolean(required=True)
    overdue_90 = Boolean(required=True)


class PerformanceOut(Schema):
    id = Integer()
    lead_id = Integer()
    loan_id = Integer()
    as_of = Date()
    overdue_30 = Boolean()
    overdue_90 = Boolean()
    reported_at = DateTime()
    reported_by = String(allow_none=True)


class PerformanceItem(PerformanceOut):
    """PerformanceOut inside a loan."""


class LoanOut(Schema):
    amount = money_out()
    rate = money_out()
    term_months = Integer()
    collateral = String()
    disbursed_on = Date()
    first_loan_borrower = Boolean()
    renewal_without_repayment = Boolean()
    performance = List(Nested(PerformanceItem))


class AnonymisedProfile(Schema):
    kind = String()
    region_code = String()
    industry_section = String(allow_none=True)
    size_band = String(allow_none=True)
    score_band = String(allow_none=True)


class LeadOut(Schema):
    id = Integer()
    status = String()
    need_id = Integer()
    institution = Nested(InstitutionRef)
    product = Nested(ProductRef)
    amount = money_out()
    term_months = Integer()
    collateral = String()
    purpose = String()
    is_renewal = Boolean()
    pushed_at = DateTime()
    sla_due_at = DateTime(allow_none=True)
    claimed_at = DateTime(allow_none=True)
    claimed_by = String(allow_none=True)
    reason_code = String(allow_none=True)
    stale_flagged_at = DateTime(allow_none=True)
    explanation = Dict(allow_none=True)
    profile = Nested(AnonymisedProfile)
    borrower = Nested(BorrowerOut, allow_none=True)
    contact_phone = String(allow_none=True)
    loan = Nested(LoanOut, allow_none=True)


class LeadItem(LeadOut):
    """LeadOut as a list item."""


class LeadPage(PageOut):
    items = List(Nested(LeadItem))


class ClaimOut(Schema):
    status = String()
    claimed_by = String()
    id = Integer()
