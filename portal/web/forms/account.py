"""Forms of the account pages: signing in and registering."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    PasswordField,
    StringField,
)
from wtforms.validators import (
    EqualTo,
    Optional,
    Regexp,
    ValidationError,
)

from core.passwords import check_password_strength
from core.reference import (
    BORROWER_KINDS,
    INDUSTRY_SECTIONS,
)
from core.types import local_today
from credit_profile.borrowers import EARLIEST_ESTABLISHED
from portal.messages import field_messages
from portal.web.forms.fields import (
    Between,
    ChoiceField,
    DayField,
    PageForm,
    WholeField,
    choices,
    fold,
    region_choices,
    require_if,
    required,
    strip,
    text_length,
)


class LoginForm(PageForm):
    username = StringField(
        _l("用户名"), filters=[strip], validators=[required(_l("请输入用户名")), text_length(64)]
    )
    password = PasswordField(_l("密码"), validators=[required(_l("请输入密码")), text_length(256)])


class StrongPassword:
    """At least 8 characters, not guessable by the strength estimator, never containing the username
    (the form's `username` field, or the signed-in user's name passed to the form)."""

    def __call__(self, form: Any, field: Any) -> None:
        username = form.username.data if "username" in form else getattr(form, "known_username", None)
        codes = check_password_strength(field.data or "", username=username or None)
        if codes:
            raise ValidationError("；".join(field_messages({"password": codes})["password"]))


PHONE = Regexp(r"^1[3-9][0-9]{9}$", message=_l("请输入 11 位手机号码"))


class RegisterForm(PageForm):
    """An applicant's account and borrower profile in one form."""

    username = StringField(
        _l("用户名"),
        filters=[strip],
        validators=[required(), text_length(64, 3)],
        description=_l("3 至 64 个字符，用于登录"),
    )
    password = PasswordField(
        _l("密码"),
        validators=[required(), text_length(256), StrongPassword()],
        description=_l("至少 8 位，不能包含用户名，不能是常见密码；建议使用一句容易记住的话"),
    )
    password_again = PasswordField(
        _l("再次输入密码"), validators=[required(), EqualTo("password", message=_l("两次输入的密码不一致"))]
    )
    phone = StringField(_l("手机号码"), filters=[fold], validators=[required(), PHONE])
    kind = ChoiceField(
        _l("主体类型"), choices=choices(BORROWER_KINDS, blank=_l("请选择")), validators=[required()]
    )
    name = StringField(
        _l("名称或姓名"),
        filters=[strip],
        validators=[required(), text_length(128)],
        description=_l("企业、个体工商户填写营业执照上的名称；农户填写本人姓名"),
    )
    uscc = StringField(
        _l("统一社会信用代码"),
        filters=[fold],
        validators=[Optional(), text_length(40)],
        description=_l("18 位，见营业执照（小微企业、个体工商户必填）"),
    )
    id_number = StringField(
        _l("居民身份证号码"),
        filters=[fold],
        validators=[Optional(), text_length(40)],
        description=_l("18 位（农户必填）"),
    )
    region_code = ChoiceField(
        _l("所在县（市、区）"),
        choices=region_choices(with_city=False, blank=_l("请选择")),
        validators=[required()],
    )
    industry_code = ChoiceField(
        _l("所属行业"), choices=choices(INDUSTRY_SECTIONS, blank=_l("请选择")), validators=[required()]
    )
    established_on = DayField(_l("成立日期"), validators=[Optional()])
    employees = WholeField(
        _l("从业人数"),
        validators=[Optional(), Between(0, 1_000_000, _l("应在 0 到 1000000 之间"))],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        farmer = self.kind.data == "farmer"
        ok = require_if(self, bool(self.kind.data) and farmer, ["id_number"]) and ok
        ok = require_if(self, bool(self.kind.data) and not farmer, ["uscc"]) and ok
        if self.established_on.data and self.established_on.data > local_today():
            self.established_on.errors = [*self.established_on.errors, _("不能晚于今天")]
            ok = False
        if self.established_on.data and self.established_on.data < EARLIEST_ESTABLISHED:
            self.established_on.errors = [*self.established_on.errors, _("不能早于 1900 年 1 月 1 日")]
            ok = False
        return ok


PASSWORD_HINT = _l("至少 8 位，不能包含用户名，不能是常见密码；建议使用一句容易记住的话")
CODE = Regexp(r"^[0-9]{6}$", message=_l("请输入短信中的 6 位数字验证码"))


def code_field() -> StringField:
    return StringField(_l("短信验证码"), filters=[fold], validators=[required(_l("请输入验证码")), CODE])


def new_password_fields() -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField(
            _l("新密码"),
            validators=[required(), text_length(256), StrongPassword()],
            description=PASSWORD_HINT,
        ),
        PasswordField(
            _l("再次输入新密码"),
            validators=[required(), EqualTo("new_password", message=_l("两次输入的密码不一致"))],
        ),
    )


class VerifyPhoneForm(PageForm):
    """The code texted at registration (or to a new phone number)."""

    code = code_field()


class PasswordChangeForm(PageForm):
    current_password = PasswordField(_l("当前密码"), validators=[required(), text_length(256)])
    new_password, new_password_again = new_password_fields()

    def __init__(self, *args: Any, username: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known_username = username


class ForgotPasswordForm(PageForm):
    phone = StringField(_l("注册时填写的手机号码"), filters=[fold], validators=[required(), PHONE])


class ResetPasswordForm(PageForm):
    phone = StringField(_l("手机号码"), filters=[fold], validators=[required(), PHONE])
    code = code_field()
    new_password, new_password_again = new_password_fields()


class PhoneChangeForm(PageForm):
    phone = StringField(
        _l("新手机号码"),
        filters=[fold],
        validators=[required(), PHONE],
        description=_l("保存后将向新号码发送验证码，验证通过后生效"),
    )


class ProfileForm(PageForm):
    """What an applicant may correct of their profile (identifiers, kind, county and industry stay)."""

    name = StringField(
        _l("名称或姓名"),
        filters=[strip],
        validators=[required(), text_length(128)],
        description=_l("企业、个体工商户填写营业执照上的名称；农户填写本人姓名"),
    )
    established_on = DayField(_l("成立日期"), validators=[Optional()])
    employees = WholeField(
        _l("从业人数"),
        validators=[Optional(), Between(0, 1_000_000, _l("应在 0 到 1000000 之间"))],
    )
