"""Forms of the officer's pages: the inbox filter and every step of a lead."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
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
    required,
    strip,
    text_length,
)


class LeadFilterForm(GetForm):
    status = ChoiceField(_l("状态"), choices=choices(LEAD_STATUS, blank=_l("全部")), validators=[Optional()])
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])


class NoteForm(PageForm):
    note = TextAreaField(_l("备注"), filters=[strip], validators=[Optional(), text_length(MAX_TEXT)])


class RejectForm(NoteForm):
    reason_code = ChoiceField(
        _l("拒绝原因"),
        choices=choices(REASON_CODES, blank=_l("请选择")),
        validators=[required(_l("拒绝时必须选择原因"))],
    )


class DisburseForm(NoteForm):
    amount = MoneyField(
        _l("放款金额（元）"),
        places=2,
        validators=[required(), Between(CENT, MAX_AMOUNT, _l("数值超出允许范围")), Cents()],
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
