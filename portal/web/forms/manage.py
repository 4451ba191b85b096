"""Forms of the product managers' pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    Optional,
    ValidationError,
)

from core.reference import (
    BORROWER_KINDS,
    COLLATERAL_KINDS,
    INDUSTRY_SECTIONS,
    PRODUCT_TAGS,
    industry_section,
)
from portal.web.forms.fields import (
    CENT,
    MAX_AMOUNT,
    AtLeastOne,
    Between,
    Cents,
    MoneyField,
    MultiChoiceField,
    PageForm,
    WanYuanField,
    WholeField,
    choices,
    region_choices,
    required,
    split_codes,
    strip,
    text_length,
)

AMOUNT_RANGE = _l("额度应在 0.000001 万元至 10000 万元之间")


class IndustryCodes:
    """Every typed code is a GB/T 4754 code (section letter and 2-4 digits of that section); the error
    names the codes that are not."""

    def __call__(self, form: Any, field: Any) -> None:
        bad = [code for code in split_codes(field.data) if industry_section(code) is None]
        if bad:
            raise ValidationError(
                _(
                    "行业代码 %(codes)s 无效：应为门类字母（如 K）或门类字母加 2–4 位数字（如 C13）",
                    codes="、".join(bad[:5]),
                )
            )


class ProductForm(PageForm):
    name = StringField(_l("产品名称"), filters=[strip], validators=[required(), text_length(128)])
    description = TextAreaField(_l("产品介绍"), filters=[strip], validators=[Optional(), text_length(2000)])
    min_amount = WanYuanField(
        _l("最低额度（万元）"),
        places=6,
        validators=[
            required(),
            Between(CENT, MAX_AMOUNT, _l("额度应在 0.000001 万元至 10000 万元之间")),
            Cents(),
        ],
        description=_l("单位：万元，例如 50 表示 50 万元"),
    )
    max_amount = WanYuanField(
        _l("最高额度（万元）"),
        places=6,
        validators=[
            required(),
            Between(CENT, MAX_AMOUNT, _l("额度应在 0.000001 万元至 10000 万元之间")),
            Cents(),
        ],
    )
    min_term_months = WholeField(
        _l("最短期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    max_term_months = WholeField(
        _l("最长期限（月）"), validators=[required(), Between(1, 360, _l("期限须在 1 至 360 个月之间"))]
    )
    rate_min = MoneyField(
        _l("最低年利率（%）"),
        places=2,
        validators=[required(), Between(CENT, Decimal(36), _l("年利率应在 0.01 到 36 之间")), Cents()],
    )
    rate_max = MoneyField(
        _l("最高年利率（%）"),
        places=2,
        validators=[required(), Between(CENT, Decimal(36), _l("年利率应在 0.01 到 36 之间")), Cents()],
    )
    collateral = MultiChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS), validators=[AtLeastOne(_l("至少选择一种担保方式"))]
    )
    borrower_kinds = MultiChoiceField(
        _l("适用客户"), choices=choices(BORROWER_KINDS), validators=[AtLeastOne(_l("至少选择一类客户"))]
    )
    region_codes = MultiChoiceField(
        _l("适用地区"), choices=region_choices(with_city=True), description=_l("不选表示全市均可申请")
    )
    industry_sections = MultiChoiceField(
        _l("不支持的行业（门类）"),
        choices=[SelectChoice(code, f"{code} {_l(name)}") for code, name in INDUSTRY_SECTIONS.items()],
        description=_l("国民经济行业分类（GB/T 4754-2017）门类，勾选的行业不能申请"),
    )
    industries_excluded = StringField(
        _l("不支持的细分行业（可选）"),
        validators=[Optional(), text_length(400), IndustryCodes()],
        description=_l(
            "更细的行业代码：门类字母加 2–4 位数字，如 C13（农副食品加工业）、C2511，多个用逗号或空格分隔"
        ),
    )
    min_score = WholeField(
        _l("最低信用评分"),
        validators=[Optional(), Between(300, 900, _l("评分应在 300 到 900 之间"))],
        description=_l("留空表示不设门槛"),
    )
    tags = MultiChoiceField(_l("产品标签"), choices=choices(PRODUCT_TAGS))
    sla_hours = WholeField(
        _l("认领时限（工作小时）"),
        default=8,
        validators=[required(), Between(1, 240, _l("应在 1 到 240 之间"))],
        description=_l("推送后须在该时限内认领，否则线索转给其他机构"),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for low, high in (
            ("min_amount", "max_amount"),
            ("min_term_months", "max_term_months"),
            ("rate_min", "rate_max"),
        ):
            lo, hi = self[low].data, self[high].data
            if lo is not None and hi is not None and lo > hi:
                self[high].errors = [*self[high].errors, _("不能小于对应的最小值")]
                ok = False
        return ok
