"""Schemas of financing needs."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length

from core.i18n import N_
from core.reference import (
    COLLATERAL_KINDS,
)
from portal.api.schemas.accounts import InstitutionRef
from portal.api.schemas.base import MAX_TEXT, In, PageOut, choice, int_range, money, money_out, text


class RenewalIn(In):
    institution_code = String(validate=Length(max=32), allow_none=True)
    current_amount = money(required=True)
    matures_on = Date(required=True)


class NeedIn(In):
    amount = money(required=True)
    term_months = int_range(1, 360, required=True)
    purpose = text(MAX_TEXT, required=True)
    collateral = choice(COLLATERAL_KINDS, required=True)
    declared_prior_loan = Boolean(required=True)
    renewal = Nested(RenewalIn, allow_none=True)
    product_id = int_range(
        1,
        2_147_483_647,
        allow_none=True,
        metadata={
            "description": N_("申请的产品：该产品可受理时首先推送给它，否则 422 并在 fields 中给出原因")
        },
    )


class NeedPatchIn(In):
    amount = money()
    term_months = int_range(1, 360)
    purpose = text(MAX_TEXT)
    collateral = choice(COLLATERAL_KINDS)


class ProductRef(Schema):
    id = Integer()
    name = String()


class OfficerOut(Schema):
    name = String()
    phone = String(allow_none=True)


class NeedLeadOut(Schema):
    id = Integer()
    institution = Nested(InstitutionRef)
    product = Nested(ProductRef)
    status = String()
    pushed_at = DateTime()
    claimed_at = DateTime(allow_none=True)
    sla_due_at = DateTime(allow_none=True)
    explanation = Dict(allow_none=True)
    officer = Nested(OfficerOut, allow_none=True, metadata={"description": N_("认领后：客户经理姓名与电话")})


class NeedLoanOut(Schema):
    amount = money_out()
    rate = money_out()
    term_months = Integer()
    disbursed_on = Date()
    matures_on = Date()
    institution = Nested(InstitutionRef)


class EventOut(Schema):
    at = DateTime()
    status = String()
    note = String(allow_none=True)
    entity = String()


class RenewalOut(Schema):
    institution_code = String(allow_none=True)
    current_amount = money_out()
    matures_on = Date()


class NeedOut(Schema):
    id = Integer()
    status = String()
    amount = money_out()
    term_months = Integer()
    purpose = String()
    collateral = String()
    declared_prior_loan = Boolean()
    renewal = Nested(RenewalOut, allow_none=True)
    submitted_at = DateTime()
    dispatch_round = Integer()
    open_to_all = Boolean()
    # Why a rejected need ended: `declined` (an institution turned it down) or `no_response` (no
    # institution acted in time, or none was left); null otherwise.
    outcome = String(allow_none=True, metadata={"enum": ["declined", "no_response", None]})
    leads = List(Nested(NeedLeadOut))
    events = List(Nested(EventOut))
    unmatched_reasons = List(Dict())
    requested_product_id = Integer(allow_none=True)
    loan = Nested(
        NeedLoanOut, allow_none=True, metadata={"description": N_("已放款时：贷款金额、利率与到期日")}
    )


class NeedItem(NeedOut):
    """NeedOut as a list item."""


class NeedPage(PageOut):
    items = List(Nested(NeedItem))
