"""Forms of the administrators' pages: institutions, users and data providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    PasswordField,
    StringField,
)
from wtforms.validators import (
    Optional,
    Regexp,
)

from core.i18n import N_
from core.reference import (
    DATA_SOURCES,
    INSTITUTION_KINDS,
)
from portal.labels import ROLE_NAMES
from portal.web.forms.account import PHONE, StrongPassword
from portal.web.forms.fields import (
    Between,
    ChoiceField,
    DayField,
    GetForm,
    PageForm,
    WholeField,
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
            Regexp(
                r"^[A-Z0-9][A-Z0-9_-]*$", message=_l("只能使用字母、数字、下划线和连字符，且以字母或数字开头")
            ),
        ],
    )
    name = StringField(_l("机构名称"), filters=[strip], validators=[required(), text_length(128)])
    kind = ChoiceField(
        _l("机构类型"), choices=choices(INSTITUTION_KINDS, blank=_l("请选择")), validators=[required()]
    )


STAFF_ROLES = ("officer", "product_manager", "finance", "admin")


# Roles an administrator creates an account for on the users page (staff of a guarantee institution
# or fund operator too: they are tied to an institution of that kind).
NEW_USER_ROLES = (*STAFF_ROLES, "guarantor")


class UserForm(PageForm):
    username = StringField(_l("用户名"), filters=[strip], validators=[required(), text_length(64, 3)])
    password = PasswordField(_l("初始密码"), validators=[required(), text_length(256), StrongPassword()])
    role = ChoiceField(
        _l("角色"),
        choices=pairs(((r, _l(ROLE_NAMES[r])) for r in NEW_USER_ROLES), blank=_l("请选择")),
        validators=[required()],
    )
    institution_id = ChoiceField(
        _l("所属机构"), choices=[], validators=[Optional()], description=_l("客户经理、产品经理必填")
    )
    operator_id = ChoiceField(
        _l("所属担保机构/资金管理方"),
        choices=[],
        validators=[Optional()],
        description=_l("担保机构/资金管理方用户必填（只列出融资担保类机构）"),
    )
    region_code = ChoiceField(
        _l("所属金融办"),
        choices=region_choices(with_city=True, blank=_l("请选择")),
        validators=[Optional()],
        description=_l("金融办用户必填：市金融办选吉安市，县级金融办选对应县（市、区）"),
    )
    phone = StringField(_l("手机号码"), filters=[fold], validators=[Optional(), PHONE])

    def __init__(
        self,
        *args: Any,
        institutions: Sequence[tuple[str, str]] = (),
        operators: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.institution_id.choices = pairs(institutions, blank=_("请选择"))
        self.operator_id.choices = pairs(operators, blank=_("请选择"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        ok = require_if(self, self.role.data in ("officer", "product_manager"), ["institution_id"]) and ok
        ok = require_if(self, self.role.data == "guarantor", ["operator_id"]) and ok
        return require_if(self, self.role.data == "finance", ["region_code"]) and ok


class ImportForm(PageForm):
    source = ChoiceField(
        _l("数据类型"), choices=choices(DATA_SOURCES, blank=_l("请选择")), validators=[required()]
    )
    file = FileField(
        _l("数据表（.csv 或 .xlsx，不超过 1 MiB）"),
        validators=[FileRequired(message=_l("请选择要导入的文件"))],
    )


class ProviderForm(PageForm):
    name = StringField(_l("提供方名称"), filters=[strip], validators=[required(), text_length(128)])
    source = ChoiceField(
        _l("数据类型"), choices=choices(DATA_SOURCES, blank=_l("请选择")), validators=[required()]
    )


# --- administration of existing accounts, institutions and the audit trail (issue 13) --------------

ACTIVE_CHOICES = {"1": N_("正常"), "0": N_("已停用")}
AUDIT_ENTITIES = {"user": N_("用户"), "institution": N_("机构"), "provider": N_("数据提供方")}


class UserFilterForm(GetForm):
    q = StringField(_l("用户名"), filters=[strip], validators=[Optional(), text_length(64)])
    role = ChoiceField(
        _l("角色"),
        choices=pairs(((r, _l(name)) for r, name in ROLE_NAMES.items()), blank=_l("全部")),
        validators=[Optional()],
    )
    institution = ChoiceField(_l("机构"), choices=[], validators=[Optional()])
    active = ChoiceField(
        _l("状态"), choices=choices(ACTIVE_CHOICES, blank=_l("全部")), validators=[Optional()]
    )
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution.choices = pairs(institutions, blank=_("全部"))


class UserEditForm(PageForm):
    role = ChoiceField(
        _l("角色"),
        choices=pairs(((r, _l(ROLE_NAMES[r])) for r in NEW_USER_ROLES), blank=_l("请选择")),
        validators=[Optional()],
        description=_l("申请人账号的角色不能修改"),
    )
    institution_id = ChoiceField(
        _l("所属机构"), choices=[], validators=[Optional()], description=_l("客户经理、产品经理必填")
    )
    region_code = ChoiceField(
        _l("所属金融办"), choices=region_choices(with_city=True, blank=_l("请选择")), validators=[Optional()]
    )
    active = ChoiceField(_l("账号状态"), choices=choices(ACTIVE_CHOICES), validators=[required()])

    def __init__(self, *args: Any, institutions: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.institution_id.choices = pairs(institutions, blank=_("请选择"))


class InstitutionEditForm(PageForm):
    name = StringField(_l("机构名称"), filters=[strip], validators=[required(), text_length(128)])
    kind = ChoiceField(_l("机构类型"), choices=choices(INSTITUTION_KINDS), validators=[required()])
    active = ChoiceField(
        _l("状态"),
        choices=choices(ACTIVE_CHOICES),
        validators=[required()],
        description=_l("停用后，该机构的产品不再参与匹配，其用户不能登录"),
    )


class AuditFilterForm(GetForm):
    actor = StringField(_l("操作人"), filters=[strip], validators=[Optional(), text_length(64)])
    entity_type = ChoiceField(
        _l("对象类型"), choices=choices(AUDIT_ENTITIES, blank=_l("全部")), validators=[Optional()]
    )
    entity_id = WholeField(_l("对象编号"), validators=[Optional(), Between(0, 2**31 - 1, _l("编号无效"))])
    since = DayField(_l("开始日期"), validators=[Optional()])
    until = DayField(_l("结束日期"), validators=[Optional()])
    page = WholeField(_l("页码"), default=1, validators=[Optional(), Between(1, 100_000, _l("页码无效"))])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.since.data and self.until.data and self.until.data < self.since.data:
            self.until.errors = [*self.until.errors, _("结束日期不能早于开始日期")]
            ok = False
        return ok
