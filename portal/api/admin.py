"""Administration of accounts and data providers: list, edit, disable, reset; deactivate, rotate."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.administration import (
    UserChange,
    UserFilter,
    UserView,
    get_user,
    institution_id_by_code,
    reset_password_by_admin,
    search_users,
    update_user,
)
from core.errors import InvalidInputError
from core.i18n import N_
from core.models import Role
from core.verification import mark_phone_verified
from credit_profile.providers import deactivate_provider, list_providers, rotate_provider
from guarantees.staff import check_operator_move
from portal.api import api_bp
from portal.api.common import page_body
from portal.api.schemas.accounts import (
    AdminUserList,
    AdminUserOut,
    AdminUserPatchIn,
    AdminUserQuery,
    ProviderItem,
    ProviderKeyOut,
    ProviderList,
    TemporaryPasswordOut,
    VerifiedOut,
)
from portal.api.schemas.base import PageQuery
from portal.auth import api_user, token_auth
from portal.db import db

ADMIN = [Role.ADMIN.value]


def user_json(user: UserView) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "phone_verified": user.phone_verified,
        "must_change_password": user.must_change_password,
        "locked_until": user.locked_until,
        "institution": {"code": user.institution_code, "name": user.institution_name}
        if user.institution_code
        else None,
        "region_code": user.region_code,
        "created_at": user.created_at,
    }


def _one(user_id: int) -> dict[str, Any]:
    found, _total = search_users(db(), UserFilter(), page=1, per_page=1, user_id=user_id)
    return user_json(found[0])


@api_bp.get("/admin/users")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(AdminUserQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(AdminUserList)
@api_bp.doc(summary=N_("用户列表（搜索、筛选、分页）"))
def admin_users(query: dict[str, Any]) -> dict[str, Any]:
    filters = UserFilter(
        q=query.get("q") or None,
        role=query.get("role"),
        institution_code=query.get("institution") or None,
        active=query.get("active"),
    )
    users, total = search_users(db(), filters, page=query["page"], per_page=query["per_page"])
    return page_body([user_json(u) for u in users], total, query["page"], query["per_page"])


@api_bp.patch("/admin/users/<int:user_id>")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(AdminUserPatchIn, arg_name="body")
@api_bp.output(AdminUserOut)
@api_bp.doc(summary=N_("修改用户：停用（其全部会话和令牌立即失效）、角色、机构、区划"))
def admin_update_user(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = get_user(db(), user_id)  # an unknown id is a 404 before any field error
    institution_id = None
    if body.get("institution_code"):
        institution_id = institution_id_by_code(db(), body["institution_code"])
        if institution_id is None:
            raise InvalidInputError({"institution_code": ["unknown"]})
        try:
            check_operator_move(db(), user, institution_id)
        except InvalidInputError as exc:
            raise InvalidInputError({"institution_code": exc.fields["institution_id"]}) from exc
    change = UserChange(
        active=body.get("active"),
        role=body.get("role"),
        institution_id=institution_id,
        region_code=body.get("region_code") or None,
    )
    update_user(db(), user_id, change, actor_id=api_user().id)
    return _one(user_id)


@api_bp.post("/admin/users/<int:user_id>/reset-password")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.output(TemporaryPasswordOut)
@api_bp.doc(summary=N_("重置密码：生成临时密码（首次登录须修改），其全部会话和令牌失效"))
def admin_reset_password(user_id: int) -> dict[str, str]:
    return {"temporary_password": reset_password_by_admin(db(), user_id, actor_id=api_user().id)}


@api_bp.post("/admin/users/<int:user_id>/verify-phone")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.output(VerifiedOut)
@api_bp.doc(summary=N_("工作人员现场核验后确认手机号码"))
def admin_verify_phone(user_id: int) -> dict[str, str]:
    mark_phone_verified(db(), get_user(db(), user_id), actor_id=api_user().id)
    return {"status": "verified"}


def provider_json(provider: Any) -> dict[str, Any]:
    return {
        "id": provider.id,
        "name": provider.name,
        "source": provider.source,
        "key": provider.key,
        "active": provider.active,
        "created_at": provider.created_at,
        "last_used_at": provider.last_used_at,
        "rotated_at": provider.rotated_at,
    }


@api_bp.get("/admin/providers")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(PageQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(ProviderList)
@api_bp.doc(summary=N_("数据提供方列表（含最近使用时间，不含密钥）"))
def admin_providers(query: dict[str, Any]) -> dict[str, Any]:
    providers, total = list_providers(db(), page=query["page"], per_page=query["per_page"])
    return page_body([provider_json(p) for p in providers], total, query["page"], query["per_page"])


@api_bp.post("/admin/providers/<int:provider_id>/deactivate")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.output(ProviderItem)
@api_bp.doc(summary=N_("停用数据提供方（此后其签名一律 401）"))
def admin_deactivate_provider(provider_id: int) -> dict[str, Any]:
    provider = deactivate_provider(db(), provider_id, actor_id=api_user().id)
    return provider_json(provider)


@api_bp.post("/admin/providers/<int:provider_id>/rotate")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.output(ProviderKeyOut)
@api_bp.doc(summary=N_("轮换数据提供方密钥（旧密钥立即失效，新密钥只显示一次）"))
def admin_rotate_provider(provider_id: int) -> dict[str, str]:
    provider, secret = rotate_provider(db(), provider_id, actor_id=api_user().id)
    return {"key": provider.key, "secret": secret}
