"""Schemas of accounts, tokens, registration, institutions, users and data providers."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Integer, List, Nested, String
from apiflask.validators import Length

from core.i18n import N_
from core.reference import (
    BORROWER_KINDS,
    DATA_SOURCES,
    INSTITUTION_KINDS,
)
from portal.api.schemas.base import In, PageOut, PageQuery, choice, int_range, text


class TokenIn(In):
    username = text(64, required=True)
    password = String(required=True, validate=Length(max=256, error=N_("密码过长")))


class TokenOut(Schema):
    token = String()
    role = String()
    expires_at = DateTime()
    must_change_password = Boolean(metadata={"description": N_("为 true 时须先修改管理员重置的临时密码")})


class InstitutionRef(Schema):
    code = String()
    name = String()


class BorrowerOut(Schema):
    id = Integer()
    kind = String()
    name = String()
    uscc = String(allow_none=True)
    id_number = String(allow_none=True)
    region_code = String()
    industry_code = String()
    established_on = Date(allow_none=True)
    employees = Integer(allow_none=True)


class MeOut(Schema):
    username = String()
    role = String()
    institution = Nested(InstitutionRef, allow_none=True)
    region_code = String(allow_none=True)
    borrower = Nested(BorrowerOut, allow_none=True)


class BorrowerIn(In):
    kind = choice(BORROWER_KINDS, required=True)
    name = text(128, required=True)
    uscc = String(validate=Length(max=40, error=N_("统一社会信用代码应为 18 位")), allow_none=True)
    id_number = String(validate=Length(max=40, error=N_("身份证号码应为 18 位")), allow_none=True)
    region_code = String(required=True, validate=Length(max=6, error=N_("区划代码应为 6 位")))
    industry_code = String(required=True, validate=Length(max=8, error=N_("行业代码过长")))
    established_on = Date(allow_none=True)
    employees = int_range(0, 1_000_000, allow_none=True)


class RegisterIn(In):
    username = String(
        required=True, validate=Length(min=3, max=64, error=N_("用户名长度应在 {min} 到 {max} 个字符之间"))
    )
    password = String(required=True, validate=Length(max=256, error=N_("密码过长")))
    phone = String(required=True, validate=Length(min=11, max=11, error=N_("请输入 11 位手机号码")))
    borrower = Nested(BorrowerIn, required=True)


class RegisterOut(Schema):
    user_id = Integer()
    borrower_id = Integer()
    verification = String(metadata={"description": N_("sms_sent：验证码已通过短信发送")})


class InstitutionIn(In):
    code = String(required=True, validate=Length(min=2, max=32, error=N_("机构代码长度应在 2 到 32 之间")))
    name = text(128, required=True)
    kind = choice(INSTITUTION_KINDS, required=True)


class InstitutionOut(Schema):
    id = Integer()
    code = String()
    name = String()
    kind = String()


class UserIn(In):
    username = String(
        required=True, validate=Length(min=3, max=64, error=N_("用户名长度应在 {min} 到 {max} 个字符之间"))
    )
    password = String(required=True, validate=Length(max=256, error=N_("密码过长")))
    role = choice(("officer", "product_manager", "finance", "admin", "guarantor"), required=True)
    institution_code = String(validate=Length(max=32), allow_none=True)
    region_code = String(validate=Length(max=6), allow_none=True)
    phone = String(validate=Length(max=32), allow_none=True)


class UserOut(Schema):
    id = Integer()
    username = String()
    role = String()
    institution_code = String(allow_none=True)
    region_code = String(allow_none=True)


class ProviderIn(In):
    name = text(128, required=True)
    source = choice(DATA_SOURCES, required=True)


class ProviderOut(Schema):
    id = Integer()
    name = String()
    source = String()
    key = String()
    secret = String()


# --- accounts (issue 13): passwords, codes, administration ------------------------------------------

PASSWORD = Length(max=256, error=N_("密码过长"))
CODE = Length(min=1, max=12, error=N_("验证码为 6 位数字"))


class PasswordChangeIn(In):
    current_password = String(required=True, validate=PASSWORD)
    new_password = String(required=True, validate=PASSWORD)


class PasswordResetIn(In):
    phone = String(required=True, validate=Length(min=1, max=32, error=N_("请输入手机号码")))


class AcceptedOut(Schema):
    status = String(metadata={"description": N_("accepted：如该号码已注册，验证码已发出")})


class PasswordResetConfirmIn(In):
    phone = String(required=True, validate=Length(min=1, max=32, error=N_("请输入手机号码")))
    code = String(required=True, validate=CODE)
    new_password = String(required=True, validate=PASSWORD)


class RegisterVerifyIn(In):
    username = text(64, required=True)
    code = String(required=True, validate=CODE)


class VerifiedOut(Schema):
    status = String()


class AdminUserQuery(PageQuery):
    q = String(validate=Length(max=64, error=N_("搜索词过长")))
    role = choice(("applicant", "officer", "product_manager", "finance", "admin"))
    institution = String(validate=Length(max=32))
    active = Boolean()


class AdminUserOut(Schema):
    id = Integer()
    username = String()
    role = String()
    active = Boolean()
    phone_verified = Boolean()
    must_change_password = Boolean()
    locked_until = DateTime(allow_none=True)
    institution = Nested(InstitutionRef, allow_none=True)
    region_code = String(allow_none=True)
    created_at = DateTime()


class AdminUserItem(AdminUserOut):
    """AdminUserOut as a list item."""


class AdminUserList(PageOut):
    items = List(Nested(AdminUserItem))


class AdminUserPatchIn(In):
    active = Boolean()
    role = choice(("officer", "product_manager", "finance", "admin"))
    institution_code = String(validate=Length(max=32))
    region_code = String(validate=Length(max=6))


class TemporaryPasswordOut(Schema):
    temporary_password = String()


class ProviderItem(Schema):
    id = Integer()
    name = String()
    source = String()
    key = String()
    active = Boolean()
    created_at = DateTime()
    last_used_at = DateTime(allow_none=True)
    rotated_at = DateTime(allow_none=True)


class ProviderListItem(ProviderItem):
    """ProviderItem as a list item."""


class ProviderList(PageOut):
    items = List(Nested(ProviderListItem))


class ProviderKeyOut(Schema):
    key = String()
    secret = String()
