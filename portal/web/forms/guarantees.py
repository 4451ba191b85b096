"""Forms of the guarantee pages: a window and a grouping for the scheme page, and each step of a cover
(request, decision, filing, release, default, payment, recovery). Amounts are typed in 万元."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import Optional

from core.i18n import N_
from core.identifiers import normalize_code
from guarantees.codes import GUARANTEE_LABELS
from portal.web.forms.fields import (
    MAX_AMOUNT,
    MAX_TEXT,
    AtLeastOne,
    Between,
    Cents,
    ChoiceField,
    DayField,
    MoneyField,
    PageForm,
    WanYuanField,
    choices,
    pairs,
    required,
    strip,
    text_length,
)
from portal.web.forms.finance import StatsForm

SCHEME_DIMENSIONS = {
    "region": N_("按县（市、区）"),
    "bank": N_("按金融机构"),
    "guarantor": N_("按担保机构/资金管理方"),
    "scheme": N_("按方案"),
}


class SchemeFiguresForm(StatsForm):
    by = ChoiceField(_l("分组"), choices=choices(SCHEME_DIMENSIONS), validators=[Optional()])


# --- the steps of a cover (each form's service is named in portal/web/guarantees.py) ----------------

DECISIONS = {"approve": N_("同意承保"), "refuse": N_("不予承保")}
MAX_WAN_AMOUNT = _l("金额应在 0 至 10000 万元之间")


class IdsField(SelectMultipleField):
    """Record ids ticked in a list (the covers to file): whole numbers, any of them; whether each may
    be used is the service's to say."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            self.data = list(dict.fromkeys(int(normalize_code(str(v))) for v in valuelist if str(v).strip()))
        except ValueError:
            self.data = []
            raise ValueError(_("选项无效")) from None
        if any(not 0 < v < 2**31 for v in self.data):
            self.data = []
            raise ValueError(_("选项无效"))

    def pre_validate(self, form: Any) -> None:
        return None


class CoverRequestForm(PageForm):
    """A bank officer asks for cover of a lead (covers.request_cover)."""

    scheme_id = ChoiceField(
        _l("担保/补偿方案"), choices=pairs([], blank=_l("请选择")), validators=[required(_l("请选择方案"))]
    )
    fee_rate = MoneyField(
        _l("担保费率（年，%）"),
        validators=[required(), Between(Decimal(0), Decimal(100), _l("费率应在 0 到 100 之间")), Cents()],
        description=_l("单位：%，例如 0.8 表示年费率 0.8%；不得超过方案的费率上限"),
    )


class DecisionForm(PageForm):
    """The guarantor approves or refuses a request (covers.decide_cover); a refusal says why."""

    decision = ChoiceField(
        _l("审核结论"),
        choices=choices(DECISIONS, blank=_l("请选择")),
        validators=[required(_l("请选择审核结论"))],
    )
    reason = TextAreaField(
        _l("审核意见"),
        filters=[strip],
        validators=[Optional(), text_length(MAX_TEXT)],
        description=_l("不予承保时必须填写原因，银行和借款人都会看到"),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.decision.data == "refuse" and not self.reason.data:
            self.reason.errors = [*self.reason.errors, _("不予承保时请填写原因")]
            ok = False
        return ok


class FilingForm(PageForm):
    """Covers to file (备案) in one batch (covers.file_covers): all of them or none."""

    cover_ids = IdsField(_l("备案业务"), validators=[AtLeastOne(_l("请至少勾选一笔要备案的业务"))])


class ReleaseForm(PageForm):
    """The bank reports the covered loan repaid (covers.release_cover)."""

    repaid_on = DayField(_l("结清日期"), validators=[required()])


def _wan(label: Any, *, optional: bool = False) -> WanYuanField:
    first = Optional() if optional else required()
    return WanYuanField(
        label,
        validators=[first, Between(Decimal(0), MAX_AMOUNT, MAX_WAN_AMOUNT)],
        description=_l("单位：万元"),
    )


class DefaultForm(PageForm):
    """The bank reports the covered loan in default with its figures, in 万元 (defaults.report_default)."""

    overdue_since = DayField(_l("逾期起始日"), validators=[required()])
    principal = _wan(_l("逾期本金（万元）"))
    interest = _wan(_l("逾期利息（万元）"))
    collateral_realised = _wan(_l("已处置抵质押物回收（万元）"), optional=True)


class PaymentForm(PageForm):
    """A payer's 代偿 or share paid in full (defaults.record_payment)."""

    paid_on = DayField(_l("支付日期"), validators=[required()])
    amount = _wan(_l("支付金额（万元）"))


class RecoveryForm(PageForm):
    """Money recovered from the borrower, returned pro rata (defaults.record_recovery)."""

    recovered_on = DayField(_l("回收日期"), validators=[required()])
    amount = _wan(_l("回收金额（万元）"))
    method = ChoiceField(
        _l("回收方式"),
        choices=choices(GUARANTEE_LABELS["recovery_method"], blank=_l("请选择")),
        validators=[required(_l("请选择回收方式"))],
    )
