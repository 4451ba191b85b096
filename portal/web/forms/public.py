"""Forms of the public pages: the supermarket's filters."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField
from wtforms.validators import (
    Optional,
)

from core.i18n import N_
from core.reference import (
    BORROWER_KINDS,
    COLLATERAL_KINDS,
    PRODUCT_TAGS,
)
from portal.web.forms.fields import (
    MAX_AMOUNT,
    Between,
    ChoiceField,
    GetForm,
    WanYuanField,
    choices,
    pairs,
    region_choices,
    strip,
    text_length,
)


class ProductFilterForm(GetForm):
    region_code = ChoiceField(
        _l("地区"), choices=region_choices(with_city=False, blank=_l("全部地区")), validators=[Optional()]
    )
    borrower_kind = ChoiceField(
        _l("客户类型"), choices=choices(BORROWER_KINDS, blank=_l("全部类型")), validators=[Optional()]
    )
    amount = WanYuanField(
        _l("需要金额（万元）"),
        places=6,
        validators=[Optional(), Between(Decimal(0), MAX_AMOUNT, _l("数值超出允许范围"))],
    )
    tag = ChoiceField(
        _l("标签"), choices=choices(PRODUCT_TAGS, blank=_l("全部标签")), validators=[Optional()]
    )
    institution = ChoiceField(_l("机构"), choices=[], validators=[Optional()])
    collateral = ChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("不限")), validators=[Optional()]
    )

    q = StringField(_l("关键词"), filters=[strip], validators=[Optional(), text_length(50)],
                    description=_l("产品名称、介绍或机构名称"))  # fmt: skip
    sort = ChoiceField(
        _l("排序"),
        choices=choices({"rate": N_("利率从低到高"), "amount": N_("额度从高到低")}, blank=_l("默认排序")),
        validators=[Optional()],
    )
    fit = BooleanField(_l("只看适合我的"), description=_l("按我的资料（地区、客户类型、行业、信用评分）筛选"))

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution.choices = pairs(institutions, blank=_("全部机构"))
