"""Platform administrators: accounts (search, edit, disable, reset), institutions (create, edit,
deactivate), data providers (create, deactivate, rotate) and the audit trail of what they did.

Forms that create something go through the idempotency guard (`first_submission`): a refresh or a double
click creates nothing the second time. Pages that show a secret once (a provider's key, a temporary
password) render it in the POST's answer rather than redirect, so that it never enters a cookie.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.accounts import create_user
from core.administration import (
    AuditFilter,
    UserChange,
    UserFilter,
    audit_entries,
    get_user,
    record_admin_action,
    reset_password_by_admin,
    search_users,
    update_user,
)
from core.errors import InvalidInputError
from core.models import Role, User
from core.types import SHANGHAI
from core.verification import mark_phone_verified
from credit_profile.imports import FINISHED, get_import, recent_imports, submit_import
from credit_profile.ingestion import create_provider
from credit_profile.providers import deactivate_provider, list_providers, rotate_provider
from credit_profile.tables import MAX_TABLE_BYTES
from guarantees.staff import OPERATOR_KIND, check_operator_move, create_operator_staff
from portal.auth import role_required, web_user
from portal.db import db
from portal.labels import LABELS, WEB_LABELS, label, web_label
from portal.messages import field_messages
from portal.web.common import INVALID_FORM, apply_errors, first_submission, ok, repeated
from portal.web.forms.admin import (
    AuditFilterForm,
    ImportForm,
    InstitutionEditForm,
    InstitutionForm,
    ProviderForm,
    UserEditForm,
    UserFilterForm,
    UserForm,
)
from portal.web.forms.fields import ActionForm
from products.institutions import get_institution, update_institution
from products.services import create_institution, list_institutions

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = Role.ADMIN.value
PER_PAGE = 20
IMPORT_REFRESH_SECONDS = 3  # the import page reloads itself while the job runs


def _institution_choices(kind: str | None = None) -> list[tuple[str, str]]:
    return [
        (str(i.id), f"{i.name}（{i.code}）")
        for i in list_institutions(db())
        if kind is None or (i.kind == kind and i.active)
    ]


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


@bp.route("/institutions", methods=["GET", "POST"])
@role_required(ADMIN)
def institutions() -> Any:
    form = InstitutionForm()
    if form.validate_on_submit():
        if not first_submission("admin.institutions"):
            repeated()
            return redirect(url_for(".institutions"))
        try:
            institution = create_institution(
                db(), code=form.code.data, name=form.name.data, kind=form.kind.data
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            record_admin_action(db(), "institution", institution.id, "created", actor_id=web_user().id)
            ok(_("机构已创建"))
            return redirect(url_for(".institutions"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("admin/institutions.html", form=form, institutions=list_institutions(db())), status


@bp.route("/institutions/<int:institution_id>", methods=["GET", "POST"])
@role_required(ADMIN)
def institution(institution_id: int) -> Any:
    row = get_institution(db(), institution_id)
    form = InstitutionEditForm(
        data={"name": row.name, "kind": row.kind, "active": "1" if row.active else "0"}
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        try:
            update_institution(
                db(),
                institution_id,
                name=form.name.data,
                kind=form.kind.data,
                active=form.active.data == "1",
                actor_id=web_user().id,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("机构信息已保存"))
            return redirect(url_for(".institutions"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("admin/institution.html", form=form, institution=row), status


@bp.route("/users", methods=["GET", "POST"])
@role_required(ADMIN)
def users() -> Any:
    choices = _institution_choices()
    form = UserForm(institutions=choices, operators=_institution_choices(OPERATOR_KIND))
    if form.validate_on_submit():
        if not first_submission("admin.users"):
            repeated()
            return redirect(url_for(".users"))
        role = form.role.data
        staff = role in (Role.OFFICER, Role.PRODUCT_MANAGER)
        try:
            if role == Role.GUARANTOR:
                user = create_operator_staff(
                    db(),
                    username=form.username.data,
                    password=form.password.data,
                    institution_id=int(form.operator_id.data),
                    phone=form.phone.data or None,
                )
            else:
                user = create_user(
                    db(),
                    username=form.username.data,
                    password=form.password.data,
                    role=role,
                    phone=form.phone.data or None,
                    institution_id=int(form.institution_id.data) if staff else None,
                    region_code=form.region_code.data if role == Role.FINANCE else None,
                )
        except InvalidInputError as exc:
            apply_errors(form, exc, aliases={"institution_id": "operator_id"})
        else:
            record_admin_action(db(), "user", user.id, "created", actor_id=web_user().id)
            ok(_("用户已创建"))
            return redirect(url_for(".users"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("admin/users.html", form=form, **_user_list(choices)), status


def _user_list(choices: list[tuple[str, str]]) -> dict[str, Any]:
    codes = {str(i.id): i.code for i in list_institutions(db())}
    filters = UserFilterForm(formdata=request.args, institutions=choices)
    flt, page = UserFilter(), 1
    if filters.validate():
        active = filters.active.data
        flt = UserFilter(
            q=filters.q.data or None,
            role=filters.role.data or None,
            institution_code=codes.get(filters.institution.data or ""),
            active=None if not active else active == "1",
        )
        page = filters.page.data or 1
    found, total = search_users(db(), flt, page=page, per_page=PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return {
        "filters": filters,
        "users": found,
        "total": total,
        "page": page,
        "pages": _pages(total, PER_PAGE),
        "args": args,
    }


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(ADMIN)
def user(user_id: int) -> Any:
    row = get_user(db(), user_id)
    form = _user_form(row, bound=request.method == "POST")
    if form.validate_on_submit():
        change = UserChange(
            active=form.active.data == "1",
            role=form.role.data or None,
            institution_id=int(form.institution_id.data) if form.institution_id.data else None,
            region_code=form.region_code.data or None,
        )
        try:
            check_operator_move(db(), row, change.institution_id)
            update_user(db(), user_id, change, actor_id=web_user().id)
        except InvalidInputError as exc:
            apply_errors(form, exc, aliases={"institution_code": "institution_id"})
        else:
            ok(
                _("用户 %(name)s 已保存", name=row.username)
                if change.active
                else _("用户 %(name)s 已停用，其全部登录已退出", name=row.username)
            )
            return redirect(url_for(".users"))
    status = INVALID_FORM if request.method == "POST" else 200
    view = search_users(db(), UserFilter(), user_id=user_id)[0][0]
    return render_template(
        "admin/user.html", form=form, user=view, action=ActionForm(), temporary=None
    ), status


def _user_form(row: User, *, bound: bool) -> UserEditForm:
    """The edit form: the account as it is, or (bound) as posted."""
    initial = {
        "role": row.role if row.role != Role.APPLICANT else "",
        "institution_id": str(row.institution_id or ""),
        "region_code": row.region_code or "",
        "active": "1" if row.active else "0",
    }
    if bound:
        return UserEditForm(institutions=_institution_choices())
    return UserEditForm(formdata=None, data=initial, institutions=_institution_choices())


@bp.post("/users/<int:user_id>/reset-password")
@role_required(ADMIN)
def reset_user_password(user_id: int) -> Any:
    row = get_user(db(), user_id)
    action = ActionForm()
    if not action.validate_on_submit():
        return redirect(url_for(".user", user_id=user_id))
    temporary = reset_password_by_admin(db(), user_id, actor_id=web_user().id)
    form = _user_form(row, bound=False)
    view = search_users(db(), UserFilter(), user_id=user_id)[0][0]
    # Shown once in this answer, never redirected (a flash would put it into the session cookie).
    return render_template("admin/user.html", form=form, user=view, action=action, temporary=temporary)


@bp.post("/users/<int:user_id>/verify-phone")
@role_required(ADMIN)
def verify_user_phone(user_id: int) -> Any:
    if ActionForm().validate_on_submit():
        mark_phone_verified(db(), get_user(db(), user_id), actor_id=web_user().id)
        ok(_("已确认该用户的手机号码"))
    return redirect(url_for(".user", user_id=user_id))


@bp.route("/providers", methods=["GET", "POST"])
@role_required(ADMIN)
def providers() -> Any:
    form = ProviderForm()
    created = None
    if form.validate_on_submit():
        if not first_submission("admin.providers"):
            repeated()
            return redirect(url_for(".providers"))
        try:
            provider, secret = create_provider(db(), name=form.name.data, source=form.source.data)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            record_admin_action(db(), "provider", provider.id, "created", actor_id=web_user().id)
            # Rendered once, not redirected: a flash would put the secret into the session cookie.
            created = {
                "name": provider.name,
                "source": provider.source,
                "key": provider.key,
                "secret": secret,
            }
            form = ProviderForm(formdata=None)
    status = INVALID_FORM if request.method == "POST" and created is None else 200
    return render_template("admin/providers.html", **_provider_page(form, created)), status


def _provider_page(form: ProviderForm, created: dict[str, Any] | None) -> dict[str, Any]:
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    rows, total = list_providers(db(), page=page, per_page=PER_PAGE)
    return {
        "form": form,
        "created": created,
        "providers": rows,
        "page": page,
        "pages": _pages(total, PER_PAGE),
        "total": total,
        "action": ActionForm(),
    }


@bp.route("/imports", methods=["GET", "POST"])
@role_required(ADMIN)
def imports() -> Any:
    """Upload a table of monthly records; it is imported by a job, whose progress the next page shows."""
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            data_import = submit_import(
                db(),
                form.source.data,
                upload.filename or "",
                upload.stream.read(MAX_TABLE_BYTES + 1),
                actor_id=web_user().id,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("文件已接收，正在后台导入，本页会自动刷新进度。"))
            return redirect(url_for(".import_detail", import_id=data_import.id))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("admin/imports.html", form=form, imports=recent_imports(db())), status


@bp.get("/imports/<int:import_id>")
@role_required(ADMIN)
def import_detail(import_id: int) -> Any:
    data_import = get_import(db(), import_id)
    errors = {
        (_("第 %(n)s 行", n=where.removeprefix("row ")) if where.startswith("row ") else _("文件")): messages
        for where, messages in field_messages(data_import.errors or {}).items()
    }
    return render_template(
        "admin/import.html",
        item=data_import,
        errors=errors,
        running=data_import.status not in FINISHED,
        refresh_seconds=IMPORT_REFRESH_SECONDS,
    )


@bp.post("/providers/<int:provider_id>/deactivate")
@role_required(ADMIN)
def deactivate(provider_id: int) -> Any:
    if ActionForm().validate_on_submit():
        provider = deactivate_provider(db(), provider_id, actor_id=web_user().id)
        ok(_("数据提供方“%(name)s”已停用，其签名请求此后一律拒绝", name=provider.name))
    return redirect(url_for(".providers"))


@bp.post("/providers/<int:provider_id>/rotate")
@role_required(ADMIN)
def rotate(provider_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        return redirect(url_for(".providers"))
    provider, secret = rotate_provider(db(), provider_id, actor_id=web_user().id)
    created = {
        "name": provider.name,
        "source": provider.source,
        "key": provider.key,
        "secret": secret,
        "rotated": True,
    }
    return render_template("admin/providers.html", **_provider_page(ProviderForm(formdata=None), created))


@bp.get("/audit")
@role_required(ADMIN)
def audit() -> Any:
    form = AuditFilterForm(formdata=request.args)
    flt, page = AuditFilter(), 1
    if form.validate():
        flt = AuditFilter(
            actor=form.actor.data or None,
            entity_type=form.entity_type.data or None,
            entity_id=form.entity_id.data,
            since=_day_start(form.since.data),
            until=_day_start(form.until.data, next_day=True),
        )
        page = form.page.data or 1
    entries, total = audit_entries(db(), flt, page=page, per_page=50)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/audit.html",
        action_label=action_label,
        form=form,
        entries=entries,
        total=total,
        page=page,
        pages=_pages(total, 50),
        args=args,
    )


STATUS_TABLES = ("need_status", "lead_status", "product_status", "consent_status")


def action_label(code: str) -> str:
    """The Chinese name of what an event did: an administrator's action, else the status it reached."""
    if code in WEB_LABELS["audit_action"]:
        return web_label(code, "audit_action")
    for table in STATUS_TABLES:
        if code in LABELS[table]:
            return label(code, table)
    return _("状态变更")


def _day_start(day: dt.date | None, *, next_day: bool = False) -> dt.datetime | None:
    """The start of a Shanghai day (or of the next one, for an inclusive end date), in UTC."""
    if day is None:
        return None
    if next_day:
        day = day + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
