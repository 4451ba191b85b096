"""Schemas of leads, their transitions, loans and repayment performance."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, Range
from marshmallow import ValidationError, validates_schema

from core.i18n import N_
from core.reference import (
    COLLATERAL_KINDS,
    REASON_CODES,
    REGIONS,
)
from portal.api.schemas.accounts import BorrowerOut, InstitutionRef
from portal.api.schemas.base import (
    MAX_TEXT,
    In,
    PageOut,
    PageQuery,
    choice,
    int_range,
    money,
    money_out,
    text,
)
from portal.api.schemas.needs import ProductRef


class LeadQuery(PageQuery):
    status = choice(
        (
            "pushed",
            "claimed",
            "contacted",
            "approved",
            "disbursed",
            "rejected",
            "expired",
            "closed",
            "declined",
        )
    )
    mine = Boolean(metadata={"description": N_("只看我认领的线索")})
    product_id = Integer(strict=False, validate=Range(min=1, max=2**31 - 1, error=N_("产品编号无效")))
    region_code = choice(REGIONS, metadata={"description": N_("借款人所在县区")})
    amount_min = money()
    amount_max = money()
    q = String(
        validate=Length(min=1, max=50, error=N_("搜索词最多 50 个字符")),
        metadata={
            "description": N_("客户名称，或手机号、统一社会信用代码的后几位（至少 4 位）；只查本人认领的线索")
        },
    )


class LoanIn(In):
    amount = money(required=True)
    rate = money(required=True)
    term_months = int_range(1, 360, required=True)
    collateral = choice(COLLATERAL_KINDS, required=True)
    disbursed_on = Date(required=True)
    first_loan_borrower = Boolean(required=True)
    renewal_without_repayment = Boolean(required=True)


NOTE = Length(max=MAX_TEXT, error=N_("备注最多 500 字"))
CONFIRM_OUTLIER = N_("确认放款金额超过需求金额两倍、或在非续贷需求上申报无还本续贷属实")


class TransitionIn(In):
    to = choice(("contacted", "approved", "rejected", "disbursed"), required=True)
    reason_code = choice(REASON_CODES, allow_none=True)
    note = String(validate=NOTE, allow_none=True)
    loan = Nested(LoanIn, allow_none=True)
    confirm_outlier = Boolean(load_default=False, metadata={"description": CONFIRM_OUTLIER})

    @validates_schema
    def _loan_when_disbursed(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("to") == "disbursed" and not data.get("loan"):
            raise ValidationError(N_("放款时必须填写贷款信息"), field_name="loan")
        if data.get("to") == "rejected" and not data.get("reason_code"):
            raise ValidationError(N_("拒绝时必须选择原因"), field_name="reason_code")


class DeclineIn(In):
    reason_code = choice(REASON_CODES, required=True)
    note = String(validate=NOTE, allow_none=True)


class AssignIn(In):
    username = text(64, required=True, metadata={"description": N_("同机构另一位客户经理的用户名")})


class NoteIn(In):
    text = text(MAX_TEXT, required=True)


class LoanCorrectionIn(In):
    amount = money()
    rate = money()
    term_months = int_range(1, 360)
    collateral = choice(COLLATERAL_KINDS)
    disbursed_on = Date()
    first_loan_borrower = Boolean()
    renewal_without_repayment = Boolean()
    reason = text(MAX_TEXT, required=True, metadata={"description": N_("更正原因（必填）")})
    confirm_outlier = Boolean(load_default=False, metadata={"description": CONFIRM_OUTLIER})


class LeadEventOut(Schema):
    at = DateTime()
    kind = String(metadata={"description": "status, note, assigned, loan_corrected"})
    from_status = String(allow_none=True)
    status = String()
    actor = String(allow_none=True)
    note = String(allow_none=True)
    data = Dict()


class LeadEventItem(LeadEventOut):
    """LeadEventOut inside a lead."""


class DeclarationsOut(Schema):
    declared_prior_loan = Boolean()
    earlier_loan_on_platform = Boolean()
    first_loan = Boolean()
    is_renewal = Boolean()
    renewal_institution_code = String(allow_none=True)
    renewal_current_amount = money_out(allow_none=True)
    renewal_matures_on = Date(allow_none=True)


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
    correctable_until = Date()


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
    events = List(Nested(LeadEventItem), metadata={"description": N_("线索的全部经过（仅详情）")})
    declarations = Nested(DeclarationsOut, allow_none=True)


class LeadItem(LeadOut):
    """LeadOut as a list item."""


class LeadPage(PageOut):
    items = List(Nested(LeadItem))


class ClaimOut(Schema):
    status = String()
    claimed_by = String()
    id = Integer()
