"""Forms of the officer's pages: the inbox filter, every step of a lead, declining, handing over, notes,
correcting a loan and reporting its performance. Amounts in 万元."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    Optional,
)

from core.reference import (
    COLLATERAL_KINDS,
    REASON_CODES,
)
from portal.labels import LEAD_STATUS
from portal.web.forms.fields import (
    CENT,
    MAX_AMOUNT,
    MAX_TEXT,
    Between,
    Cents,
    ChoiceField,
    DayField,
    GetForm,
    MoneyField,
    PageForm,
    WholeField,
    choices,
    pairs,
    region_choices,
    required,
    strip,
    text_length,
)

# People type and read amounts in 万元; the services take yuan.
WAN = Decimal(10000)
MAX_WAN = MAX_AMOUNT / WAN
WAN_STEP = Decimal("0.000001")  # one cent


class LeadFilterForm(GetForm):
    q = StringField(
        _l("搜索"),
        filters=[strip],
        validators=[Optional(), text_length(50)],
        description=_l("客户名称，或手机号、统一社会信用代码的后几位（至少 4 位）；只查您认领的线索"),
    )
    status = ChoiceField(_l("状态"), choices=choices(LEAD_STATUS, blank=_l("全部")), validators=[Optional()])
    mine = BooleanField(_l("只看我认领的"))
    product = ChoiceField(_l("产品"), choices=pairs([], blank=_l("全部")), validators=[Optional()])
    region = ChoiceField(
        _l("县区"), choices=region_choices(with_city=False, blank=_l("全部")), validators=[Optional()]
    )
    amount_min = MoneyField(
        _l("金额从（万元）"), validators=[Optional(), Between(WAN_STEP, MAX_WAN, _l("数值超出允许范围"))]
    )
    amount_max = MoneyField(
        _l("金额到（万元）"), validators=[Optional(), Between(WAN_STEP, MAX_WAN, _l("数值超出允许范围"))]
    )
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])


class NoteForm(PageForm):
    note = TextAreaField(_l("备注"), filters=[strip], validators=[Optional(), text_length(MAX_TEXT)])


class RejectForm(NoteForm):
    reason_code = ChoiceField(
        _l("拒绝原因"),
        choices=choices(REASON_CODES, blank=_l("请选择")),
        validators=[required(_l("拒绝时必须选择原因"))],
    )


def in_wan(amount: Decimal) -> Decimal:
    """An amount in yuan as people read it in 万元: 300000.00 → 30, 125000 → 12.5."""
    wan = amount / WAN
    return wan.quantize(Decimal(1)) if wan == wan.to_integral_value() else wan.normalize()


class LoanFields(PageForm):
    """What a disbursement records, amounts in 万元."""

    amount = MoneyField(
        _l("放款金额（万元）"),
        places=None,
        validators=[required(), Between(WAN_STEP, MAX_WAN, _l("数值超出允许范围"))],
    )
    rate = MoneyField(
        _l("年利率（%）"),
        places=2,
        validators=[required(), Between(CENT, Decimal(36), _l("年利率应在 0.01 到 36 之间")), Cents()],
    )
    term_months = WholeField(
        _l("期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    collateral = ChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("请选择")), validators=[required()]
    )
    disbursed_on = DayField(_l("放款日期"), validators=[required()])
    first_loan_borrower = BooleanField(
        _l("首贷户"), description=_l("借款人此前从未在任何金融机构获得过贷款，这是其第一笔贷款")
    )
    renewal_without_repayment = BooleanField(
        _l("无还本续贷"), description=_l("本笔贷款用于接续即将到期的贷款，借款人无需先归还本金")
    )
    confirm_outlier = BooleanField(
        _l("确认金额与标识无误"),
        description=_l("放款金额超过需求金额两倍，或在非续贷需求上标记无还本续贷时，核实后勾选"),
    )


class DisburseForm(LoanFields, NoteForm):
    pass


class CorrectLoanForm(LoanFields):
    reason = TextAreaField(
        _l("更正原因"), filters=[strip], validators=[required(_l("请说明更正原因")), text_length(MAX_TEXT)]
    )


class DeclineForm(NoteForm):
    reason_code = ChoiceField(
        _l("婉拒原因"),
        choices=choices(REASON_CODES, blank=_l("请选择")),
        validators=[required(_l("婉拒时必须选择原因"))],
    )


class LeadNoteForm(PageForm):
    text = TextAreaField(
        _l("跟进备注"), filters=[strip], validators=[required(_l("请填写备注内容")), text_length(MAX_TEXT)]
    )


class AssignForm(PageForm):
    username = ChoiceField(
        _l("移交给"),
        choices=pairs([], blank=_l("请选择同事")),
        validators=[required(_l("请选择要移交的同事"))],
    )


class PerformanceForm(PageForm):
    as_of = DayField(_l("截至日期"), validators=[required()])
    overdue_30 = BooleanField(_l("曾逾期 30 天以上"))
    overdue_90 = BooleanField(_l("曾逾期 90 天以上"))
