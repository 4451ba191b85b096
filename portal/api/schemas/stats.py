"""Schemas of the finance offices' statistics: windows, figures, breakdowns, funnel, board, drill-down."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, Range
from marshmallow import fields

from core.i18n import N_
from portal.api.schemas.accounts import InstitutionRef
from portal.api.schemas.base import In, PageOut, choice, money
from portal.api.schemas.needs import ProductRef


class StatsQuery(In):
    from_ = Date(required=True, data_key="from")
    to = Date(required=True)
    region_code = String(validate=Length(max=6))


class StatsOut(Schema):
    from_ = String(data_key="from")
    to = String()
    region_code = String()
    needs = Integer()
    needs_amount = String()
    leads_pushed = Integer()
    leads_claimed = Integer()
    median_hours_to_claim = fields.Float(allow_none=True)
    loans = Integer()
    loans_amount = String()
    borrowers = Integer()
    first_loan_borrowers = Integer()
    first_loan_share = String(allow_none=True)
    renewal_loans = Integer()
    renewal_amount = String()
    renewal_requests = Integer()
    renewal_success_rate = String(allow_none=True)
    credit_loan_share = String(allow_none=True)
    avg_rate = String(allow_none=True)
    inclusive_loans_pboc = Integer()
    inclusive_loans_nfra = Integer()
    farmer_loans = Integer()
    farmer_amount = String()


STATS_DIMENSIONS = ("county", "institution", "industry", "kind", "tag")
EXPORT_TABLES = (
    "summary",
    "indicators",
    "timeseries",
    "breakdown",
    "funnel",
    "institutions",
    "maturities",
    "drilldown",
    "guarantees",
    "bridges",
    "scheme_limits",
    "cap_monitor",
)
# Exports of the guarantee and bridge tables may also group by guarantor or scheme.
EXPORT_DIMENSIONS = (*STATS_DIMENSIONS, "guarantor", "scheme")


class BreakdownQuery(StatsQuery):
    by = choice(STATS_DIMENSIONS, required=True)


class OptionalWindowQuery(In):
    from_ = Date(data_key="from")
    to = Date()
    region_code = String(validate=Length(max=6))


class DrilldownQuery(StatsQuery):
    figure = String(required=True, validate=Length(max=40))
    by = choice(STATS_DIMENSIONS)
    key = String(validate=Length(max=32))
    page = Integer(load_default=1, validate=Range(min=1, max=100000, error=N_("页码无效")))
    per_page = Integer(
        load_default=20, validate=Range(min=1, max=100, error=N_("每页条数应在 1 到 100 之间"))
    )


class ExportQuery(StatsQuery):
    table = choice(EXPORT_TABLES, required=True)
    format = choice(("csv", "xlsx"), load_default="xlsx")
    by = choice(EXPORT_DIMENSIONS)
    figure = String(validate=Length(max=40))
    key = String(validate=Length(max=32))


class FigureFields(Schema):
    """Every figure of a group (null where the group's rows cannot carry it); see docs/metrics.md."""

    needs = Integer(allow_none=True)
    needs_amount = String(allow_none=True)
    leads_pushed = Integer(allow_none=True)
    leads_claimed = Integer(allow_none=True)
    median_hours_to_claim = fields.Float(allow_none=True)
    loans = Integer(allow_none=True)
    loans_amount = String(allow_none=True)
    borrowers = Integer(allow_none=True)
    first_loan_borrowers = Integer(allow_none=True)
    first_loan_share = String(allow_none=True)
    renewal_loans = Integer(allow_none=True)
    renewal_amount = String(allow_none=True)
    renewal_requests = Integer(allow_none=True)
    renewal_success_rate = String(allow_none=True)
    credit_loan_share = String(allow_none=True)
    avg_rate = String(allow_none=True)
    inclusive_loans_pboc = Integer(allow_none=True)
    inclusive_loans_nfra = Integer(allow_none=True)
    farmer_loans = Integer(allow_none=True)
    farmer_amount = String(allow_none=True)
    first_loan_loans = Integer(allow_none=True)
    first_loan_amount = String(allow_none=True)
    credit_loans = Integer(allow_none=True)
    credit_amount = String(allow_none=True)
    inclusive_amount_pboc = String(allow_none=True)
    inclusive_amount_nfra = String(allow_none=True)
    inclusive_borrowers_pboc = Integer(allow_none=True)
    inclusive_borrowers_nfra = Integer(allow_none=True)


class WindowOut(Schema):
    from_ = String(data_key="from")
    to = String()
    region_code = String()


class BreakdownItem(FigureFields):
    key = String(allow_none=True)
    label = String(allow_none=True)


class BreakdownOut(WindowOut):
    by = String()
    items = List(Nested(BreakdownItem))
    total = Nested(FigureFields)


class TimeseriesPoint(FigureFields):
    period = String()
    from_ = String(data_key="from")
    to = String()


class TimeseriesOut(WindowOut):
    items = List(Nested(TimeseriesPoint))


class FunnelStep(Schema):
    step = String()
    count = Integer()
    conversion = String(allow_none=True)
    overall = String(allow_none=True)


class FunnelOut(WindowOut):
    steps = List(Nested(FunnelStep))
    lead_steps = List(Nested(FunnelStep))
    outcomes = Dict(keys=String(), values=Integer())


class InstitutionBoardRow(Schema):
    code = String()
    name = String()
    leads_pushed = Integer()
    leads_claimed = Integer()
    median_hours_to_claim = fields.Float(allow_none=True)
    median_hours_to_decision = fields.Float(allow_none=True)
    sla_breaches = Integer()
    sla_breach_rate = String(allow_none=True)
    decided = Integer()
    approved = Integer()
    approval_rate = String(allow_none=True)
    loans = Integer()
    loans_amount = String()
    avg_rate = String(allow_none=True)
    first_loan_borrowers = Integer()
    credit_loan_share = String(allow_none=True)
    renewal_loans = Integer()


class InstitutionBoardOut(WindowOut):
    items = List(Nested(InstitutionBoardRow))


class IndicatorItem(Schema):
    code = String()
    kind = String()
    value = String(allow_none=True)
    previous = String(allow_none=True)
    change = String(allow_none=True)
    growth = String(allow_none=True)


class IndicatorsOut(WindowOut):
    previous_from = String()
    previous_to = String()
    items = List(Nested(IndicatorItem))


class MaturityItem(Schema):
    source = String()
    band = String()
    renewal_status = String()
    count = Integer()
    amount = String()


class MaturitiesOut(WindowOut):
    items = List(Nested(MaturityItem))


class MaskedBorrower(Schema):
    id = Integer()
    kind = String()
    name = String()
    uscc = String(allow_none=True)
    id_number = String(allow_none=True)
    region_code = String()
    industry_code = String()


class DrilldownRow(Schema):
    type = String()
    id = Integer()
    need_id = Integer()
    date = Date()
    status = String()
    amount = money()
    rate = money(allow_none=True)
    term_months = Integer()
    collateral = String()
    is_renewal = Boolean()
    first_loan_borrower = Boolean()
    renewal_without_repayment = Boolean()
    matures_on = Date(allow_none=True)
    pushed_at = DateTime()
    claimed_at = DateTime(allow_none=True)
    sla_due_at = DateTime(allow_none=True)
    borrower = Nested(MaskedBorrower)
    institution = Nested(InstitutionRef, allow_none=True)
    product = Nested(ProductRef, allow_none=True)


class DrilldownPage(PageOut):
    figure = String()
    items = List(Nested(DrilldownRow))
