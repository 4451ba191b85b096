"""Forms of the administrators' pages: institutions, users and data providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    PasswordField,
    StringField,
)
from wtforms.validators import (
    Optional,
    Regexp,
)

from core.reference import (
    DATA_SOURCES,
    INSTITUTION_KINDS,
)
from portal.labels import ROLE_NAMES
from portal.web.forms.account import PHONE, StrongPassword
from portal.web.forms.fields import (
    ChoiceField,
    PageForm,
    choices,
    fold,
    pairs,
    region_choices,
    require_if,
    required,
    strip,
    text_length,
)


class InstitutionForm(PageForm):
    code = StringField(
        _l("机构代码"),
        filters=[fold],
        validators=[
            required(),
            text_length(32, 2),
            Regexp(r"^[A-Z0-9_-]+$", message=_l("只能使用字母、数字、下划线和连字符")),
        ],
    )
    name = StringField(_l("机构名称"), filters=[strip], validators=[required(), text_length(128)])
    kind = ChoiceField(
        _l("机构类型"), choices=choices(INSTITUTION_KINDS, blank=_l("请选择")), validators=[required()]
    )


STAFF_ROLES = ("officer", "product_manager", "finance", "admin")


class UserForm(PageForm):
    username = StringField(_l("用户名"), filters=[strip], validators=[required(), text_length(64, 3)])
    password = PasswordField(_l("初始密码"), validators=[required(), text_length(256), StrongPassword()])
    role = ChoiceField(
        _l("角色"),
        choices=pairs(((r, _l(ROLE_NAMES[r])) for r in STAFF_ROLES), blank=_l("请选择")),
        validators=[required()],
    )
    institution_id = ChoiceField(
        _l("所属机构"), choices=[], validators=[Optional()], description=_l("客户经理、产品经理必填")
    )
    region_code = ChoiceField(
        _l("所属金融办"),
        choices=region_choices(with_city=True, blank=_l("请选择")),
        validators=[Optional()],
        description=_l("金融办用户必填：市金融办选吉安市，县级金融办选对应县（市、区）"),
    )
    phone = StringField(_l("手机号码"), filters=[fold], validators=[Optional(), PHONE])

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution_id.choices = pairs(institutions, blank=_("请选择"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        ok = require_if(self, self.role.data in ("officer", "product_manager"), ["institution_id"]) and ok
        return require_if(self, self.role.data == "finance", ["region_code"]) and ok


class ProviderForm(PageForm):
    name = StringField(_l("提供方名称"), filters=[strip], validators=[required(), text_length(128)])
    source = ChoiceField(
        _l("数据类型"), choices=choices(DATA_SOURCES, blank=_l("请选择")), validators=[required()]
    )
