"""Forms of the applicant's pages: consents and financing needs."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    InputRequired,
    Optional,
    Regexp,
)

from core.reference import (
    COLLATERAL_KINDS,
    DATA_SOURCES,
)
from portal.web.forms.fields import (
    CENT,
    MAX_AMOUNT,
    MAX_TEXT,
    AtLeastOne,
    Between,
    Cents,
    ChoiceField,
    DayField,
    MultiChoiceField,
    PageForm,
    WanYuanField,
    WholeField,
    choices,
    pairs,
    require_if,
    required,
    strip,
    text_length,
)


class ConsentForm(PageForm):
    sources = MultiChoiceField(
        _l("授权采集的数据"),
        choices=choices(DATA_SOURCES),
        validators=[AtLeastOne(_l("至少选择一类数据"))],
    )
    purpose = StringField(
        _l("授权用途"),
        filters=[strip],
        default=_l("生成信用画像，用于融资需求匹配和授信参考"),
        validators=[required(), text_length(200)],
    )
    expires_on = DayField(_l("授权截止日期"), validators=[required()], description=_l("最长三年"))
    agree = BooleanField(
        _l("我已阅读并同意上述授权书"), validators=[InputRequired(message=_l("请先阅读并同意授权书"))]
    )


class NeedForm(PageForm):
    amount = WanYuanField(
        _l("申请金额（万元）"),
        places=6,
        validators=[
            required(),
            Between(Decimal(1000), MAX_AMOUNT, _l("申请金额须在 0.1 万元至 10000 万元之间")),
            Cents(),
        ],
        description=_l("单位：万元，例如 5 表示 5 万元"),
    )
    term_months = WholeField(
        _l("期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    purpose = TextAreaField(
        _l("资金用途"),
        filters=[strip],
        validators=[required(), text_length(MAX_TEXT)],
        description=_l("例如：采购原材料、购置农机、店面装修"),
    )
    collateral = ChoiceField(
        _l("可提供的担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("请选择")), validators=[required()]
    )
    declared_prior_loan = BooleanField(_l("我（本单位）以前在银行等金融机构贷过款（含已还清的）"))
    is_renewal = BooleanField(_l("这是续贷申请：现有贷款即将到期，希望续贷"))
    renewal_institution_code = ChoiceField(_l("现有贷款的机构"), choices=[], validators=[Optional()])
    renewal_current_amount = WanYuanField(
        _l("现有贷款余额（万元）"),
        places=6,
        validators=[Optional(), Between(CENT, MAX_AMOUNT, _l("数值超出允许范围")), Cents()],
    )
    renewal_matures_on = DayField(_l("现有贷款到期日"), validators=[Optional()])
    # The product applied for from its page ("申请此产品"); errors about it are shown above the form.
    product_id = HiddenField(
        validators=[Optional(), Regexp(r"^[0-9]{1,9}$", message=_l("产品编号无效，请从金融超市重新选择产品"))]
    )

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renewal_institution_code.choices = pairs(institutions, blank=_("未指定或平台外机构"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        return (
            require_if(self, bool(self.is_renewal.data), ["renewal_current_amount", "renewal_matures_on"])
            and ok
        )


class NeedEditForm(PageForm):
    """What may change on a need before a bank claims it (matching.rematching.edit_need)."""

    amount = NeedForm.amount
    term_months = NeedForm.term_months
    purpose = NeedForm.purpose
    collateral = NeedForm.collateral
