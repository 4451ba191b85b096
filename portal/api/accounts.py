"""Tokens, the caller, public registration and administration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response

from core.accounts import authenticate, change_password, create_user, open_session, revoke_session
from core.administration import record_admin_action
from core.errors import InvalidInputError
from core.i18n import N_
from core.models import Role
from core.reference import CITY_CODE, REGIONS
from core.verification import request_password_reset, reset_password
from credit_profile.borrowers import BorrowerInput, get_borrower
from credit_profile.ingestion import create_provider
from credit_profile.registration import BorrowerInputError, register_applicant, verify_applicant_phone
from guarantees.staff import create_operator_staff
from portal.api import api_bp
from portal.api.common import borrower_dict, settings
from portal.api.schemas.accounts import (
    AcceptedOut,
    InstitutionIn,
    InstitutionOut,
    MeOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProviderIn,
    ProviderOut,
    RegisterIn,
    RegisterOut,
    RegisterVerifyIn,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    VerifiedOut,
)
from portal.auth import api_token, api_user, token_auth
from portal.db import db, keep_on_error
from portal.extensions import limiter
from products.errors import InstitutionNotFoundError
from products.models import Institution
from products.services import create_institution, get_institution_by_code


def _login_limit() -> str:
    return settings().login_rate_limit


def _failed_sign_in(response: Response) -> bool:
    """Only failed attempts count against an address: many people behind one address all sign in."""
    return response.status_code == 401


@api_bp.post("/auth/token")
@limiter.limit(_login_limit, deduct_when=_failed_sign_in)
@api_bp.input(TokenIn, arg_name="body")
@api_bp.output(TokenOut)
@api_bp.doc(summary=N_("换取访问令牌"), responses=[401, 403, 422, 429])
def issue_token(body: dict[str, Any]) -> dict[str, Any]:
    keep_on_error()  # a failed attempt counts towards the account's lock although it answers 401
    user = authenticate(db(), body["username"], body["password"])
    token, row = open_session(db(), user, kind="api", ttl=dt.timedelta(hours=settings().token_ttl_hours))
    return {
        "token": token,
        "role": user.role,
        "expires_at": row.expires_at,
        "must_change_password": user.must_change_password,
    }


@api_bp.post("/auth/logout")
@api_bp.auth_required(token_auth)
@api_bp.output({}, status_code=204)
@api_bp.doc(summary=N_("退出登录（令牌立即失效）"))
def logout() -> tuple[str, int]:
    revoke_session(db(), api_token())
    return "", 204


@api_bp.post("/me/password")
@api_bp.auth_required(token_auth)
@api_bp.input(PasswordChangeIn, arg_name="body")
@api_bp.output({}, status_code=204)
@api_bp.doc(summary=N_("修改密码（本令牌以外的会话和令牌全部失效）"), responses=[422])
def change_my_password(body: dict[str, Any]) -> tuple[str, int]:
    change_password(
        db(),
        api_user(),
        current_password=body["current_password"],
        new_password=body["new_password"],
        keep_token=api_token(),
    )
    return "", 204


@api_bp.post("/auth/password-reset")
@limiter.limit(_login_limit)
@api_bp.input(PasswordResetIn, arg_name="body")
@api_bp.output(AcceptedOut, status_code=202)
@api_bp.doc(summary=N_("忘记密码：向手机发送验证码（无论号码是否注册，回应相同）"), responses=[429])
def password_reset(body: dict[str, Any]) -> tuple[dict[str, str], int]:
    request_password_reset(db(), body["phone"])
    return {"status": "accepted"}, 202


@api_bp.post("/auth/password-reset/confirm")
@limiter.limit(_login_limit)
@api_bp.input(PasswordResetConfirmIn, arg_name="body")
@api_bp.output({}, status_code=204)
@api_bp.doc(summary=N_("用短信验证码设置新密码"), responses=[422, 429])
def password_reset_confirm(body: dict[str, Any]) -> tuple[str, int]:
    keep_on_error()  # a wrong code uses up one of its tries
    reset_password(db(), phone=body["phone"], code=body["code"], new_password=body["new_password"])
    return "", 204


@api_bp.post("/register/verify")
@limiter.limit(_login_limit)
@api_bp.input(RegisterVerifyIn, arg_name="body")
@api_bp.output(VerifiedOut)
@api_bp.doc(summary=N_("输入注册短信验证码，验证手机号码"), responses=[422, 429])
def register_verify(body: dict[str, Any]) -> dict[str, str]:
    keep_on_error()  # a wrong code uses up one of its tries
    verify_applicant_phone(db(), body["username"], body["code"])
    return {"status": "verified"}


@api_bp.get("/me")
@api_bp.auth_required(token_auth)
@api_bp.output(MeOut)
@api_bp.doc(summary=N_("当前用户"))
def me() -> dict[str, Any]:
    user = api_user()
    institution = db().get(Institution, user.institution_id) if user.institution_id else None
    borrower = get_borrower(db(), user.borrower_id) if user.borrower_id else None
    return {
        "username": user.username,
        "role": user.role,
        "institution": {"code": institution.code, "name": institution.name} if institution else None,
        "region_code": user.region_code,
        "borrower": borrower_dict(borrower, masked=False) if borrower else None,
    }


def _register_limit() -> str:
    return settings().register_rate_limit


@api_bp.post("/register")
@limiter.limit(_login_limit)
@limiter.limit(_register_limit)
@api_bp.input(RegisterIn, arg_name="body")
@api_bp.output(RegisterOut, status_code=201)
@api_bp.doc(summary=N_("申请人注册"), responses=[422, 429])
def register(body: dict[str, Any]) -> dict[str, Any]:
    b = body["borrower"]
    try:
        registration = register_applicant(
            db(),
            BorrowerInput(
                kind=b["kind"],
                name=b["name"],
                region_code=b["region_code"],
                industry_code=b["industry_code"],
                uscc=b.get("uscc"),
                id_number=b.get("id_number"),
                established_on=b.get("established_on"),
                employees=b.get("employees"),
            ),
            username=body["username"],
            password=body["password"],
            phone=body["phone"],
        )
    except BorrowerInputError as exc:
        raise InvalidInputError({f"borrower.{k}": v for k, v in exc.fields.items()}) from exc
    return {
        "user_id": registration.user.id,
        "borrower_id": registration.borrower.id,
        "verification": "sms_sent",
    }


@api_bp.post("/admin/institutions")
@api_bp.auth_required(token_auth, roles=[Role.ADMIN.value])
@api_bp.input(InstitutionIn, arg_name="body")
@api_bp.output(InstitutionOut, status_code=201)
@api_bp.doc(summary=N_("新增金融机构"), responses=[401, 403, 422])
def add_institution(body: dict[str, Any]) -> Institution:
    institution = create_institution(db(), code=body["code"], name=body["name"], kind=body["kind"])
    record_admin_action(db(), "institution", institution.id, "created", actor_id=api_user().id)
    return institution


@api_bp.post("/admin/users")
@api_bp.auth_required(token_auth, roles=[Role.ADMIN.value])
@api_bp.input(UserIn, arg_name="body")
@api_bp.output(UserOut, status_code=201)
@api_bp.doc(summary=N_("新增机构或政府用户"), responses=[401, 403, 422])
def add_user(body: dict[str, Any]) -> dict[str, Any]:
    role = body["role"]
    institution_code, region_code = body.get("institution_code"), body.get("region_code")
    institution_id = None
    if role in (Role.OFFICER, Role.PRODUCT_MANAGER):
        if not institution_code:
            raise InvalidInputError({"institution_code": ["required"]})
        try:
            institution_id = get_institution_by_code(db(), institution_code).id
        except InstitutionNotFoundError as exc:  # an unknown code is a field error here, not a 404
            raise InvalidInputError({"institution_code": ["unknown"]}) from exc
        region_code = None
    elif role == Role.FINANCE:
        if region_code not in (*REGIONS, CITY_CODE):
            raise InvalidInputError({"region_code": ["required" if not region_code else "invalid_choice"]})
        institution_code = None
    elif role == Role.GUARANTOR:
        region_code = None
        try:
            found: int | None = get_institution_by_code(db(), institution_code or "").id
        except InstitutionNotFoundError:
            found = None  # create_operator_staff refuses it as a field error
        try:
            user = create_operator_staff(
                db(), username=body["username"], password=body["password"], institution_id=found,
                phone=body.get("phone"),
            )  # fmt: skip
        except InvalidInputError as exc:
            raise InvalidInputError(
                {("institution_code" if k == "institution_id" else k): v for k, v in exc.fields.items()}
            ) from exc
    else:
        institution_code = region_code = None
    if role != Role.GUARANTOR:
        user = create_user(
            db(),
            username=body["username"],
            password=body["password"],
            role=role,
            phone=body.get("phone"),
            institution_id=institution_id,
            region_code=region_code,
        )
    record_admin_action(db(), "user", user.id, "created", actor_id=api_user().id)
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "institution_code": institution_code,
        "region_code": region_code,
    }


@api_bp.post("/admin/providers")
@api_bp.auth_required(token_auth, roles=[Role.ADMIN.value])
@api_bp.input(ProviderIn, arg_name="body")
@api_bp.output(ProviderOut, status_code=201)
@api_bp.doc(summary=N_("新增数据提供方（密钥只显示一次）"), responses=[401, 403, 422])
def add_provider(body: dict[str, Any]) -> dict[str, Any]:
    provider, secret = create_provider(db(), name=body["name"], source=body["source"])
    record_admin_action(db(), "provider", provider.id, "created", actor_id=api_user().id)
    return {
        "id": provider.id,
        "name": provider.name,
        "source": provider.source,
        "key": provider.key,
        "secret": secret,
    }
