"""Schemas of post-loan monitoring: warnings, their steps, coverage, the finance figures and the rules."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Float, Integer, List, Nested, String
from apiflask.validators import Range

from core.i18n import N_
from monitoring.warnings import ACTIONS, OUTCOMES
from portal.api.schemas.base import In, PageOut, PageQuery, choice, money_out, text


class WarningQuery(PageQuery):
    status = choice(("open", "acknowledged", "actioned", "closed"))
    level = choice(("yellow", "red"))


class EvidenceOut(Schema):
    rule = String()
    level = String()
    signal = String(allow_none=True)
    value = Float(allow_none=True)
    current = Float(allow_none=True)
    baseline = Float(allow_none=True)
    peer_pct = Float(allow_none=True)
    peer_count = Integer(allow_none=True)
    text = String()


class WarningOut(Schema):
    id = Integer()
    loan_id = Integer()
    borrower_name = String()
    region_code = String()
    industry_code = String()
    amount = money_out()
    disbursed_on = Date()
    level = String()
    status = String()
    period = String()
    rule_codes = List(String())
    evidence = List(Nested(EvidenceOut))
    opened_at = DateTime()
    ack_due_at = DateTime()
    acknowledged_at = DateTime(allow_none=True)
    escalated_at = DateTime(allow_none=True)
    action = String(allow_none=True)
    action_note = String(allow_none=True)
    outcome = String(allow_none=True)
    closed_at = DateTime(allow_none=True)
    mine = Boolean()


class WarningItem(WarningOut):
    """A warning in a list (its own name in the OpenAPI document, as ConsentItem)."""


class WarningPage(PageOut):
    items = List(Nested(WarningItem))


class WarningActionIn(In):
    action = choice(ACTIONS, required=True)
    note = text(500, allow_none=True)


class WarningCloseIn(In):
    outcome = choice(OUTCOMES, required=True)
    note = text(500, allow_none=True)


class CoverageOut(Schema):
    loan_id = Integer()
    borrower_id = Integer()
    borrower_name = String()
    institution_name = String()
    amount = money_out()
    disbursed_on = Date()
    term_months = Integer()
    covered = Boolean()
    consent_id = Integer(allow_none=True)


class CoverageList(Schema):
    items = List(Nested(CoverageOut))


class MonitoringConsentIn(In):
    loan_id = Integer(required=True, validate=Range(min=1, max=2**31 - 1, error=N_("贷款编号无效")))


class CountOut(Schema):
    key = String()
    yellow = Integer()
    red = Integer()


class NamedWarningOut(Schema):
    warning_id = Integer()
    borrower_name = String()
    institution_name = String()
    region_code = String()
    scheme = String()
    amount = money_out()
    period = String()
    evidence = List(String())


class WarningFiguresQuery(In):
    region_code = String()


class WarningFiguresOut(Schema):
    region_code = String()
    active_yellow = Integer()
    active_red = Integer()
    by_region = List(Nested(CountOut))
    by_institution = List(Nested(CountOut))
    acknowledged_on_time = Integer()
    acknowledgement_due = Integer()
    ack_sla_share = Float(allow_none=True)
    loans = Integer()
    loans_monitored = Integer()
    schemes_connected = Boolean()
    scheme_exposure_red = money_out()
    named_red = List(Nested(NamedWarningOut))


class RuleQualityOut(Schema):
    code = String()
    red_loans = Integer()
    red_then_default = Integer()
    precision = Float(allow_none=True)
    defaults = Integer()
    defaults_warned = Integer()
    recall = Float(allow_none=True)
    median_lead_days_90 = Float(allow_none=True)
    median_lead_days_30 = Float(allow_none=True)


class RuleOut(Schema):
    code = String()
    signal = String(allow_none=True)
    direction = String()
    yellow = Float(allow_none=True)
    red = Float(allow_none=True)
    persist_months = Integer()
    window_months = Integer()
    peer_pct_max = Float(allow_none=True)
    requires = List(String())
    enabled = Boolean()
    quality = Nested(RuleQualityOut, allow_none=True)


class RuleList(Schema):
    loans = Integer()
    defaults = Integer()
    overall = Nested(RuleQualityOut, allow_none=True)
    items = List(Nested(RuleOut))


class RuleIn(In):
    yellow = Float(allow_none=True, allow_nan=False)
    red = Float(allow_none=True, allow_nan=False)
    persist_months = Integer(load_default=1)
    window_months = Integer(load_default=1)
    peer_pct_max = Float(allow_none=True, allow_nan=False)
    enabled = Boolean(load_default=True)
