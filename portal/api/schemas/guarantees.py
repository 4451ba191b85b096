"""Schemas of the government credit-enhancement endpoints: schemes, covers (with the waterfall),
compensation payments, recoveries, bridge applications and the figures."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, Range

from core.i18n import N_
from guarantees.defaults import RECOVERY_METHODS
from guarantees.figures import DIMENSIONS
from guarantees.models import CoverStatus, SchemeKind
from portal.api.schemas.base import In, PageOut, PageQuery, choice, int_range, money, money_out, text


class SchemeIn(In):
    code = text(32, required=True)
    name = text(128, required=True)
    kind = choice([k.value for k in SchemeKind], required=True)
    sponsor = text(128, required=True)
    operator_code = text(32, required=True)
    capital = money(required=True)
    leverage_limit = money(required=True)
    loss_shares = Dict(
        keys=String(validate=Length(max=16)), values=String(validate=Length(max=12)), required=True
    )
    tenor_bands = List(Dict(), load_default=list, validate=Length(max=10))
    funding_shares = Dict(
        keys=String(validate=Length(max=16)), values=String(validate=Length(max=12)), load_default=dict
    )
    covers_interest = Boolean(load_default=False)
    fee_rate_cap = money(required=True)
    single_cap = money(required=True)
    comp_cap_rate = money(required=True)
    filing_deadline_days = int_range(1, 3650, required=True)
    claim_deadline_days = int_range(1, 3650, required=True)
    decision_sla_hours = int_range(1, 720, load_default=48)
    eligibility = Dict(load_default=dict)
    bridge_max_ratio = money(load_default=None, allow_none=True)
    bridge_max_days = int_range(1, 90, load_default=None, allow_none=True)
    fee_tiers = List(Dict(), load_default=list, validate=Length(max=10))
    pause_overdue_ratio = money(load_default=None, allow_none=True)


class SchemeOut(Schema):
    id = Integer()
    code = String()
    name = String()
    kind = String()
    sponsor = String()
    operator_id = Integer()
    status = String()
    paused_reason = String(allow_none=True)
    capital = money_out()
    leverage_limit = money_out()
    loss_shares = Dict()
    tenor_bands = List(Dict())
    funding_shares = Dict()
    covers_interest = Boolean()
    fee_rate_cap = money_out()
    single_cap = money_out()
    comp_cap_rate = money_out()
    filing_deadline_days = Integer()
    claim_deadline_days = Integer()
    decision_sla_hours = Integer()
    eligibility = Dict()
    bridge_max_ratio = money_out(allow_none=True)
    bridge_max_days = Integer(allow_none=True)
    fee_tiers = List(Dict())
    pause_overdue_ratio = money_out(allow_none=True)
    product_ids = List(Integer())


class SchemeItem(SchemeOut):
    """A scheme in a list (its own name in the OpenAPI document)."""


class SchemeList(Schema):
    items = List(Nested(SchemeItem))


class PauseIn(In):
    paused = Boolean(required=True)
    reason = String(load_default=None, allow_none=True, validate=Length(max=500))


class ProductLinksIn(In):
    product_ids = List(Integer(validate=Range(min=1, max=2**31 - 1)), required=True, validate=Length(max=200))


class CoverRequestIn(In):
    lead_id = Integer(required=True, validate=Range(min=1, max=2**31 - 1))
    scheme_id = Integer(required=True, validate=Range(min=1, max=2**31 - 1))
    # The yearly fee rate as a fraction (0.008 is 0.8 %).
    fee_rate = money(required=True)


class DecisionIn(In):
    approve = Boolean(required=True)
    reason = String(load_default=None, allow_none=True, validate=Length(max=500))


class FilingIn(In):
    cover_ids = List(
        Integer(validate=Range(min=1, max=2**31 - 1)), required=True, validate=Length(min=1, max=500)
    )
    filed_on = Date(load_default=None, allow_none=True)


class FilingOut(Schema):
    batch = String()
    cover_ids = List(Integer())


class ReleaseIn(In):
    repaid_on = Date(required=True)


class DefaultIn(In):
    overdue_since = Date(required=True)
    principal = money(required=True)
    interest = money(load_default="0")
    collateral_realised = money(load_default="0")


class PaymentIn(In):
    amount = money(required=True)
    paid_on = Date(required=True)


class RecoveryIn(In):
    amount = money(required=True)
    recovered_on = Date(required=True)
    method = choice(RECOVERY_METHODS, required=True)


class CoverQuery(PageQuery):
    status = choice([s.value for s in CoverStatus])


class StepOut(Schema):
    at = DateTime()
    from_status = String(allow_none=True)
    to_status = String()
    note = String(allow_none=True)
    data = Dict()


class PaymentOut(Schema):
    id = Integer()
    party = String()
    kind = String()
    amount_due = money_out()
    claimed_on = Date()
    paid_on = Date(allow_none=True)
    amount_paid = money_out(allow_none=True)


class RecoveryOut(Schema):
    recovered_on = Date()
    amount = money_out()
    method = String()
    split = Dict(keys=String(), values=money_out())


class DefaultOut(Schema):
    overdue_since = Date()
    principal = money_out()
    interest = money_out()
    collateral_realised = money_out()
    loss = money_out()
    shares = Dict(keys=String(), values=money_out())
    workings = List(Dict(), metadata={"description": N_("计算过程：每行 {label, formula, amount}")})
    claim_due_on = Date()
    reported_on = Date()
    payments = List(Nested(PaymentOut))
    recoveries = List(Nested(RecoveryOut))
    returned = Dict(keys=String(), values=money_out())


class CoverOut(Schema):
    id = Integer()
    status = String()
    scheme_id = Integer()
    scheme_code = String()
    scheme_name = String()
    scheme_kind = String()
    loss_shares = Dict()
    operator_name = String()
    bank_name = String()
    institution_id = Integer()
    lead_id = Integer()
    loan_id = Integer(allow_none=True)
    borrower_id = Integer()
    region_code = String()
    amount = money_out()
    term_months = Integer()
    fee_rate = money_out()
    requested_at = DateTime()
    decision_due_at = DateTime()
    overdue_decision = Boolean()
    decided_at = DateTime(allow_none=True)
    reason = String(allow_none=True)
    activated_on = Date(allow_none=True)
    matures_on = Date(allow_none=True)
    filing_due_on = Date(allow_none=True)
    filed_on = Date(allow_none=True)
    filing_batch = String(allow_none=True)
    released_on = Date(allow_none=True)
    default = Nested(DefaultOut, allow_none=True)
    steps = List(Nested(StepOut))


class QueueRowOut(Schema):
    id = Integer()
    status = String()
    scheme_name = String()
    bank_name = String()
    region_code = String()
    amount = money_out()
    term_months = Integer()
    requested_at = DateTime()
    decision_due_at = DateTime()
    overdue_decision = Boolean()
    filing_due_on = Date(allow_none=True)
    filed_on = Date(allow_none=True)
    filing_overdue = Boolean()


class CoverPage(PageOut):
    items = List(Nested(QueueRowOut))


class BridgeIn(In):
    scheme_id = Integer(required=True, validate=Range(min=1, max=2**31 - 1))
    amount = money(required=True)
    need_id = Integer(load_default=None, allow_none=True, validate=Range(min=1, max=2**31 - 1))
    loan_id = Integer(load_default=None, allow_none=True, validate=Range(min=1, max=2**31 - 1))
    institution_code = String(load_default=None, allow_none=True, validate=Length(max=32))
    contract_no = String(load_default="", validate=Length(max=64))
    maturing_principal = money(load_default=None, allow_none=True)
    matures_on = Date(load_default=None, allow_none=True)


class CommitmentIn(In):
    amount = money(required=True)
    renewal_on = Date(required=True)
    signer = text(64, required=True)
    document_sha256 = String(required=True, validate=Length(equal=64))


class StepDateIn(In):
    on = Date(required=True)


class RenewalIn(In):
    on = Date(required=True)
    amount = money(required=True)


class RefuseIn(In):
    reason = text(500, required=True)


class ClockOut(Schema):
    days_used = Integer()
    days_left = Integer(allow_none=True)
    fee_so_far = money_out()


class BridgeOut(Schema):
    id = Integer()
    status = String()
    scheme_id = Integer()
    scheme_name = String()
    scheme_status = String()
    paused_reason = String(allow_none=True)
    bank_name = String()
    institution_id = Integer()
    borrower_id = Integer()
    region_code = String()
    contract_no = String()
    maturing_principal = money_out()
    matures_on = Date()
    amount = money_out()
    max_ratio = money_out(allow_none=True)
    max_days = Integer(allow_none=True)
    fee_tiers = List(Dict())
    commitment_amount = money_out(allow_none=True)
    commitment_date = Date(allow_none=True)
    commitment_signer = String(allow_none=True)
    commitment_doc_hash = String(allow_none=True)
    approved_on = Date(allow_none=True)
    disbursed_on = Date(allow_none=True)
    due_on = Date(allow_none=True)
    old_loan_repaid_on = Date(allow_none=True)
    renewal_disbursed_on = Date(allow_none=True)
    renewal_amount = money_out(allow_none=True)
    returned_on = Date(allow_none=True)
    days_used = Integer(allow_none=True)
    fee = money_out(allow_none=True)
    overdue_on = Date(allow_none=True)
    breach_on = Date(allow_none=True)
    reason = String(allow_none=True)
    clock = Nested(ClockOut, allow_none=True)
    steps = List(Nested(StepOut))


class BridgeItem(BridgeOut):
    """A bridge application in a list (its own name in the OpenAPI document)."""


class BridgeList(Schema):
    items = List(Nested(BridgeItem))


class FiguresQuery(In):
    from_date = Date(required=True, data_key="from")
    to_date = Date(required=True, data_key="to")
    region_code = String(validate=Length(max=6))
    by = choice(DIMENSIONS, load_default="region")


class FigureGroupOut(Schema):
    key = String()
    figures = Dict(
        metadata={"description": N_("指标代码 → 数值（金额为元，比率为小数，见 docs/metrics.md）")}
    )


class SchemeFiguresOut(Schema):
    scheme_id = Integer()
    code = String()
    name = String()
    kind = String()
    status = String()
    paused_reason = String(allow_none=True)
    capital = money_out()
    leverage_limit = money_out()
    balance = money_out()
    leverage = money_out(allow_none=True)
    utilisation = money_out(allow_none=True)
    bridge_out = money_out()
    overdue_share = money_out(allow_none=True)
    turnover = money_out(allow_none=True)


class CapLineOut(Schema):
    scheme_id = Integer()
    institution_id = Integer()
    covered = money_out()
    compensated = money_out()
    cap = money_out()
    headroom = money_out()
    used_share = money_out(allow_none=True)


class FiguresOut(Schema):
    from_date = Date(data_key="from")
    to_date = Date(data_key="to")
    as_at = Date()
    region_code = String()
    by = String()
    covers = List(Nested(FigureGroupOut))
    bridges = List(Nested(FigureGroupOut))
    schemes = List(Nested(SchemeFiguresOut))
    caps = List(Nested(CapLineOut))
