"""Request and response schemas of the JSON API; they validate input and generate the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Decimal, Dict, File, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import RAISE, ValidationError, fields, pre_load, validates_schema

from core.i18n import N_
from core.identifiers import has_control_characters
from core.reference import (
    BORROWER_KINDS,
    COLLATERAL_KINDS,
    DATA_SOURCES,
    INSTITUTION_KINDS,
    PRODUCT_TAGS,
    REASON_CODES,
)

# marshmallow's own messages, in Chinese (the portal passes them through Flask-Babel when rendering).
_FIELD_MESSAGES: dict[type[fields.Field[Any]], dict[str, str]] = {
    fields.Field: {
        "required": N_("此项必填"),
        "null": N_("不能为空"),
        "validator_failed": N_("内容无效"),
    },
    fields.String: {"invalid": N_("应为文本"), "invalid_utf8": N_("不是合法的 UTF-8 文本")},
    fields.Number: {"invalid": N_("应为数字"), "too_large": N_("数值过大")},
    fields.Integer: {"invalid": N_("应为整数")},
    fields.Decimal: {"special": N_("不允许 NaN 或无穷大")},
    fields.Boolean: {"invalid": N_("应为 true 或 false")},
    fields.Date: {"invalid": N_("日期格式应为 YYYY-MM-DD"), "format": N_("日期格式应为 YYYY-MM-DD")},
    fields.List: {"invalid": N_("应为列表")},
    fields.Nested: {"type": N_("应为对象")},
    fields.Mapping: {"invalid": N_("应为对象")},
}
for _cls, _messages in _FIELD_MESSAGES.items():
    _cls.default_error_messages = {**_cls.default_error_messages, **_messages}

UNKNOWN_FIELD = N_("不支持的字段")
MAX_TEXT = 500


def _control_characters(value: Any, path: str = "") -> dict[str, list[str]]:
    """Paths of strings holding control or text-direction characters (tab and newlines are fine)."""
    found: dict[str, list[str]] = {}
    if isinstance(value, str):
        if has_control_characters(value):
            found[path or "_schema"] = [N_("不能包含控制字符")]
    elif isinstance(value, Mapping):  # a JSON object, or the query string's MultiDictProxy
        for key, item in value.items():
            found.update(_control_characters(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for item in value:
            found.update(_control_characters(item, path))
    return found


class In(Schema):
    """Base of request schemas: unknown fields and control characters are refused in Chinese."""

    class Meta:
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {"unknown": UNKNOWN_FIELD, "type": N_("请求体应为 JSON 对象")}

    @pre_load
    def _refuse_control_characters(self, data: Any, **_kwargs: Any) -> Any:
        found = _control_characters(data)
        if found:
            raise ValidationError(found)
        return data


def text(max_len: int = 100, **kwargs: Any) -> String:
    return String(
        validate=Length(min=1, max=max_len, error=N_("长度应在 {min} 到 {max} 个字符之间")), **kwargs
    )


def choice(options: Any, **kwargs: Any) -> String:
    return String(validate=OneOf(list(options), error=N_("选项无效")), **kwargs)


MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def money(**kwargs: Any) -> Decimal:
    """Money or a rate in a request: a decimal string or a JSON number (documented as either)."""
    return Decimal(
        as_string=True,
        allow_nan=False,
        places=None,
        metadata={"type": ["string", "number"], "pattern": MONEY_PATTERN},
        **kwargs,
    )


def money_out(**kwargs: Any) -> Decimal:
    """Money or a rate in a response: always a decimal string ("1500000.00")."""
    return Decimal(
        as_string=True, places=None, metadata={"type": "string", "pattern": MONEY_PATTERN}, **kwargs
    )


def int_range(lo: int, hi: int, **kwargs: Any) -> Integer:
    return Integer(
        strict=True, validate=Range(min=lo, max=hi, error=N_("应在 {min} 到 {max} 之间")), **kwargs
    )


# --- errors and pagination -----------------------------------------------------------------------


class PageQuery(In):
    page = Integer(load_default=1, validate=Range(min=1, max=100000, error=N_("页码无效")))
    per_page = Integer(
        load_default=20, validate=Range(min=1, max=100, error=N_("每页条数应在 1 到 100 之间"))
    )


class PageOut(Schema):
    total = Integer()
    page = Integer()
    per_page = Integer()


# --- accounts ----------------------------------------------------------------------------------


class TokenIn(In):
    username = text(64, required=True)
    password = String(required=True, validate=Length(max=256, error=N_("密码过长")))


class TokenOut(Schema):
    token = String()
    role = String()
    expires_at = DateTime()


class InstitutionRef(Schema):
    code = String()
    name = String()


class BorrowerOut(Schema):
    id = Integer()
    kind = String()
    name = String()
    uscc = String(allow_none=True)
    id_number = String(allow_none=True)
    region_code = String()
    industry_code = String()
    established_on = Date(allow_none=True)
    employees = Integer(allow_none=True)


class MeOut(Schema):
    username = String()
    role = String()
    institution = Nested(InstitutionRef, allow_none=True)
    region_code = String(allow_none=True)
    borrower = Nested(BorrowerOut, allow_none=True)


class BorrowerIn(In):
    kind = choice(BORROWER_KINDS, required=True)
    name = text(128, required=True)
    uscc = String(validate=Length(max=40, error=N_("统一社会信用代码应为 18 位")), allow_none=True)
    id_number = String(validate=Length(max=40, error=N_("身份证号码应为 18 位")), allow_none=True)
    region_code = String(required=True, validate=Length(max=6, error=N_("区划代码应为 6 位")))
    industry_code = String(required=True, validate=Length(max=8, error=N_("行业代码过长")))
    established_on = Date(allow_none=True)
    employees = int_range(0, 1_000_000, allow_none=True)


class RegisterIn(In):
    username = String(
        required=True, validate=Length(min=3, max=64, error=N_("用户名长度应在 {min} 到 {max} 个字符之间"))
    )
    password = String(required=True, validate=Length(max=256, error=N_("密码过长")))
    phone = String(required=True, validate=Length(min=11, max=11, error=N_("请输入 11 位手机号码")))
    borrower = Nested(BorrowerIn, required=True)


class RegisterOut(Schema):
    user_id = Integer()
    borrower_id = Integer()


class InstitutionIn(In):
    code = String(required=True, validate=Length(min=2, max=32, error=N_("机构代码长度应在 2 到 32 之间")))
    name = text(128, required=True)
    kind = choice(INSTITUTION_KINDS, required=True)


class InstitutionOut(Schema):
    id = Integer()
    code = String()
    name = String()
    kind = String()


class UserIn(In):
    username = String(
        required=True, validate=Length(min=3, max=64, error=N_("用户名长度应在 {min} 到 {max} 个字符之间"))
    )
    password = String(required=True, validate=Length(max=256, error=N_("密码过长")))
    role = choice(("officer", "product_manager", "finance", "admin"), required=True)
    institution_code = String(validate=Length(max=32), allow_none=True)
    region_code = String(validate=Length(max=6), allow_none=True)
    phone = String(validate=Length(max=32), allow_none=True)


class UserOut(Schema):
    id = Integer()
    username = String()
    role = String()
    institution_code = String(allow_none=True)
    region_code = String(allow_none=True)


class ProviderIn(In):
    name = text(128, required=True)
    source = choice(DATA_SOURCES, required=True)


class ProviderOut(Schema):
    id = Integer()
    name = String()
    source = String()
    key = String()
    secret = String()


# --- reference ---------------------------------------------------------------------------------


class CodeName(Schema):
    code = String()
    name = String()


class CodeNameList(Schema):
    items = List(Nested(CodeName))


# --- products ----------------------------------------------------------------------------------


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


# --- consents, data, credit profile --------------------------------------------------------------


MONTH = Length(max=7, error=N_("月份格式应为 YYYY-MM"))


class PeriodIn(In):
    from_ = String(data_key="from", validate=MONTH, allow_none=True)
    to = String(validate=MONTH, allow_none=True)


class ConsentIn(In):
    sources = List(
        choice(DATA_SOURCES), required=True, validate=Length(min=1, max=3, error=N_("至少选择一类数据"))
    )
    purpose = text(200, required=True)
    expires_on = Date(required=True)
    period = Nested(PeriodIn, allow_none=True)


class PeriodOut(Schema):
    from_ = String(data_key="from", allow_none=True)
    to = String(allow_none=True)


class RecipientOut(Schema):
    institution = Nested(InstitutionRef)
    pushed_at = DateTime()
    claimed_at = DateTime(allow_none=True)
    identified = Boolean()
    reads = Integer()


class DeletionOut(Schema):
    at = DateTime()
    source = String()
    records = Integer()
    first_period = String()
    last_period = String()


class ConsentUseOut(Schema):
    id = Integer()
    at = DateTime()
    action = String()
    source = String(allow_none=True)
    allowed = Boolean()
    institution = String(allow_none=True)
    detail = String(allow_none=True)


class ConsentOut(Schema):
    id = Integer()
    status = String()
    sources = List(String())
    purpose = String()
    granted_at = DateTime()
    expires_on = Date()
    revoked_at = DateTime(allow_none=True)
    text_version = String()
    text_hash = String()
    period = Nested(PeriodOut, allow_none=True)
    recipients = List(Nested(RecipientOut))
    deletions = List(Nested(DeletionOut))
    uses = List(Nested(ConsentUseOut))


class ConsentItem(ConsentOut):
    """ConsentOut as a list item."""


class ConsentList(Schema):
    items = List(Nested(ConsentItem))
    uses = List(Nested(ConsentUseOut))


class RevokeIn(In):
    reason = String(validate=Length(max=200), allow_none=True)


class ImportIn(In):
    file = File(required=True)


class ImportOut(Schema):
    imported = Integer()


class ScorecardOut(Schema):
    version = String()
    active = Boolean()
    created_at = DateTime()
    note = String(allow_none=True)
    target_meaning = String()
    characteristics = List(String())


class ScorecardItem(ScorecardOut):
    """ScorecardOut as a list item."""


class ScorecardPage(PageOut):
    items = List(Nested(ScorecardItem))
    active_version = String()


class RecordsIn(In):
    records = List(Raw(), required=True, validate=Length(min=1, max=1000, error=N_("一次提交 1 到 1000 条")))


class RejectedRecord(Schema):
    index = Integer()
    errors = List(String())


class RecordsOut(Schema):
    accepted = Integer()
    rejected = List(Nested(RejectedRecord))


class ReasonOut(Schema):
    code = String()
    text = String()
    impact = Integer()


class SourceCoverageOut(Schema):
    months = Integer()
    gaps = Integer()
    first_period = String(allow_none=True)
    latest_period = String(allow_none=True)
    consented = Boolean()


class CreditProfileOut(Schema):
    score = Integer(allow_none=True)
    grade = String(allow_none=True)
    reasons = List(Nested(ReasonOut))
    sources = Dict(keys=String(), values=Nested(SourceCoverageOut))
    model_version = String(allow_none=True)
    computed_at = DateTime(allow_none=True)


# --- needs and leads ---------------------------------------------------------------------------


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


class ProductRef(Schema):
    id = Integer()
    name = String()


class NeedLeadOut(Schema):
    id = Integer()
    institution = Nested(InstitutionRef)
    product = Nested(ProductRef)
    status = String()
    pushed_at = DateTime()
    claimed_at = DateTime(allow_none=True)
    sla_due_at = DateTime(allow_none=True)
    explanation = Dict(allow_none=True)


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
    leads = List(Nested(NeedLeadOut))
    events = List(Nested(EventOut))
    unmatched_reasons = List(Dict())


class NeedItem(NeedOut):
    """NeedOut as a list item."""


class NeedPage(PageOut):
    items = List(Nested(NeedItem))


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


# --- notifications and alerts -------------------------------------------------------------------


class NotificationQuery(PageQuery):
    unread = Boolean(load_default=False)


class NotificationOut(Schema):
    id = Integer()
    kind = String()
    text = String()
    need_id = Integer(allow_none=True)
    lead_id = Integer(allow_none=True)
    created_at = DateTime()
    read_at = DateTime(allow_none=True)
    read = Boolean()


class NotificationItem(NotificationOut):
    """NotificationOut as a list item."""


class NotificationPage(PageOut):
    items = List(Nested(NotificationItem))
    unread = Integer()


class AlertQuery(PageQuery):
    region_code = String(validate=Length(max=6))


class AlertNeedOut(Schema):
    id = Integer()
    status = String()
    amount = money()
    term_months = Integer()
    dispatch_round = Integer()
    open_to_all = Boolean()
    borrower = String()
    borrower_kind = String()


class AlertOut(Schema):
    id = Integer()
    kind = String()
    text = String()
    region_code = String()
    created_at = DateTime()
    need = Nested(AlertNeedOut)


class AlertPage(PageOut):
    items = List(Nested(AlertOut))


# --- statistics --------------------------------------------------------------------------------


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


# --- monitoring (docs/metrics.md) --------------------------------------------------------------

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
)


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
    by = choice(STATS_DIMENSIONS)
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


class MonthlyReportIn(In):
    month = String(required=True, validate=Length(min=7, max=7, error=N_("月份格式应为 YYYY-MM")))
    region_code = String(validate=Length(max=6), allow_none=True)


class ReportOut(Schema):
    id = Integer()
    kind = String()
    month = String()
    region_code = String()
    status = String()
    progress = Integer()
    created_at = DateTime()
    started_at = DateTime(allow_none=True)
    finished_at = DateTime(allow_none=True)
    error = String(allow_none=True)
    filename = String(allow_none=True)
    download_url = String(allow_none=True)


class ReportItem(ReportOut):
    """ReportOut as a list item."""


class ReportList(Schema):
    items = List(Nested(ReportItem))
