"""Forms of the public pages: the supermarket's filters."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import (
    Optional,
)

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
    MoneyField,
    choices,
    pairs,
    region_choices,
)


class ProductFilterForm(GetForm):
    region_code = ChoiceField(
        _l("地区"), choices=region_choices(with_city=False, blank=_l("全部地区")), validators=[Optional()]
    )
    borrower_kind = ChoiceField(
        _l("客户类型"), choices=choices(BORROWER_KINDS, blank=_l("全部类型")), validators=[Optional()]
    )
    amount = MoneyField(
        _l("需要金额（元）"),
        places=2,
        validators=[Optional(), Between(Decimal(0), MAX_AMOUNT, _l("数值超出允许范围"))],
    )
    tag = ChoiceField(
        _l("标签"), choices=choices(PRODUCT_TAGS, blank=_l("全部标签")), validators=[Optional()]
    )
    institution = ChoiceField(_l("机构"), choices=[], validators=[Optional()])
    collateral = ChoiceField(
        _l("担保方式"), choices=choices(COLLATERAL_KINDS, blank=_l("不限")), validators=[Optional()]
    )

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution.choices = pairs(institutions, blank=_("全部机构"))
