"""Signing in and out, applicant registration with phone verification, changing and resetting a
password, changing a phone number, and the notification centre of every role."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests

from core.accounts import AccountLockedError, PhoneUnverifiedError, authenticate, change_password
from core.errors import AuthenticationError, InvalidInputError
from core.models import Role, StatusEvent
from core.notifications import list_notifications, mark_all_read, mark_read
from core.types import utcnow
from core.verification import (
    change_phone,
    request_password_reset,
    resend_phone_code,
)
from core.verification import reset_password as reset_password_with_code
from credit_profile.borrowers import BorrowerInput, get_borrower, update_borrower_profile
from credit_profile.registration import register_applicant, verify_applicant_phone
from portal.auth import end_web_session, role_required, start_web_session, web_user
from portal.db import db, keep_on_error
from portal.extensions import limiter
from portal.filters import local_time
from portal.notices import notification_link, notification_text
from portal.web.common import INVALID_FORM, apply_errors, ok, role_home, safe_next
from portal.web.forms.account import (
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    PhoneChangeForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    VerifyPhoneForm,
)
from portal.web.forms.fields import ActionForm

bp = Blueprint("account", __name__)
VERIFY_USERNAME = "verify_username"
RESET_PHONE = "reset_phone"
NOTIFICATIONS_PER_PAGE = 20


def _login_limit() -> str:
    limit: str = current_app.extensions["jihuitong.settings"].login_rate_limit
    return limit


def _failed_form(response: Any) -> bool:
    """Only refused attempts count against an address: many people behind one address all get in."""
    return bool(response.status_code in (INVALID_FORM, 401, 403))


# The forms behind a sign-in limit, and their templates: a 429 shows the form again with what was typed.
LIMITED_FORMS: dict[str, tuple[type[Any], str]] = {
    "account.login": (LoginForm, "account/login.html"),
    "account.register": (RegisterForm, "account/register.html"),
    "account.forgot_password": (ForgotPasswordForm, "account/forgot_password.html"),
    "account.reset_password": (ResetPasswordForm, "account/reset_password.html"),
    "account.verify_phone": (VerifyPhoneForm, "account/verify_phone.html"),
}


@bp.errorhandler(429)
def too_many_requests(error: TooManyRequests) -> Any:
    """The limited form again, filled with what the user typed (password fields never echo a value),
    and the message; other pages get the error page."""
    limited = LIMITED_FORMS.get(request.endpoint or "")
    headers = {k: v for k, v in error.get_headers() if k.lower() == "retry-after"}
    message = _("操作过于频繁，请稍后再试")
    if limited is None or request.method != "POST":
        return render_template("error.html", status=429, message=message), 429, headers
    form_class, template = limited
    form = form_class()
    flash(message, "error")
    return render_template(template, form=form, **_template_extras(request.endpoint or "")), 429, headers


def _template_extras(endpoint: str) -> dict[str, Any]:
    if endpoint == "account.verify_phone":
        return {"username": session.get(VERIFY_USERNAME)}
    return {}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed_form)
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(role_home(current_user.role))
    form = LoginForm()
    status = INVALID_FORM if request.method == "POST" else 200
    if form.validate_on_submit():
        keep_on_error()  # a wrong password counts towards the account's lock although the page is a 422
        try:
            user = authenticate(db(), form.username.data, form.password.data)
        except AccountLockedError as exc:
            minutes = max(1, math.ceil((exc.until - utcnow()).total_seconds() / 60))
            form.password.errors = [
                *form.password.errors,
                _(
                    "该账户连续多次密码错误，已锁定至 %(time)s（约 %(minutes)s 分钟后解除）。"
                    "忘记密码可通过短信验证码重置。",
                    time=local_time(exc.until, "%H:%M"),
                    minutes=minutes,
                ),
            ]
            status = 429
        except PhoneUnverifiedError:
            session[VERIFY_USERNAME] = form.username.data
            flash(_("您的手机号码尚未验证，请输入注册时收到的短信验证码，或重新获取。"), "error")
            return redirect(url_for(".verify_phone"))
        except AuthenticationError:
            form.password.errors = [*form.password.errors, _("用户名或密码不正确")]
        else:
            # Logging in over a live session (another account on a shared phone) ends that one first.
            end_web_session()
            start_web_session(user)
            if user.must_change_password:
                ok(_("登录成功。您使用的是管理员重置的临时密码，请先设置新密码。"))
                return redirect(url_for(".password"))
            ok(_("登录成功"))
            return redirect(safe_next(request.args.get("next")) or role_home(user.role))
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    form = ActionForm()
    if form.validate_on_submit():
        end_web_session()
        ok(_("您已安全退出"))
    return redirect(url_for("public.home"))


def _register_limit() -> str:
    return str(current_app.extensions["jihuitong.settings"].register_rate_limit)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(role_home(current_user.role))
    form = RegisterForm()
    if form.validate_on_submit():
        farmer = form.kind.data == "farmer"
        try:
            user = register_applicant(
                db(),
                BorrowerInput(
                    kind=form.kind.data,
                    name=form.name.data,
                    region_code=form.region_code.data,
                    industry_code=form.industry_code.data,
                    uscc=None if farmer else form.uscc.data,
                    id_number=form.id_number.data if farmer else None,
                    established_on=form.established_on.data,
                    employees=form.employees.data,
                ),
                username=form.username.data,
                password=form.password.data,
                phone=form.phone.data,
            ).user
        except InvalidInputError as exc:
            db().rollback()
            apply_errors(form, exc)
        else:
            # Registering over a live session (a shared phone) ends that one first.
            end_web_session()
            session[VERIFY_USERNAME] = user.username
            ok(_("账号已创建。验证码已发送到您的手机，请输入验证码完成注册。"))
            return redirect(url_for(".verify_phone"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/register.html", form=form), status


@bp.route("/register/verify", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed_form)
def verify_phone() -> Any:
    """The code texted at registration or after a change of phone; then the applicant is signed in."""
    if current_user.is_authenticated and web_user().phone_verified:
        return redirect(role_home(current_user.role))
    username = web_user().username if current_user.is_authenticated else session.get(VERIFY_USERNAME)
    if not username:
        return redirect(url_for(".login"))
    form = VerifyPhoneForm()
    if form.validate_on_submit():
        keep_on_error()  # a wrong code uses up one of its tries
        try:
            user = verify_applicant_phone(db(), username, form.code.data)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            session.pop(VERIFY_USERNAME, None)
            if not current_user.is_authenticated:
                start_web_session(user)
                ok(_("手机号码已验证，注册完成。建议先完成数据授权，再发布融资需求。"))
                return redirect(url_for("applicant.consents"))
            ok(_("新手机号码已验证"))
            return redirect(role_home(user.role))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/verify_phone.html", form=form, username=username), status


@bp.post("/register/resend")
@limiter.limit(_login_limit)
def resend_code() -> Any:
    form = ActionForm()
    username = web_user().username if current_user.is_authenticated else session.get(VERIFY_USERNAME)
    if form.validate_on_submit() and username:
        resend_phone_code(db(), username)
        ok(_("新的验证码已发送，10 分钟内有效"))
    return redirect(url_for(".verify_phone"))


@bp.route("/account/password", methods=["GET", "POST"])
@role_required()
def password() -> Any:
    user = web_user()
    form = PasswordChangeForm(username=user.username)
    if form.validate_on_submit():
        try:
            change_password(
                db(),
                user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
                keep_token=current_user.token,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("密码已修改，您在其他设备上的登录已全部退出"))
            return redirect(role_home(user.role))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/password.html", form=form, forced=user.must_change_password), status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password() -> Any:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        request_password_reset(db(), form.phone.data)
        session[RESET_PHONE] = form.phone.data
        # The same answer whether or not the number is registered.
        ok(_("如该号码已注册，验证码已发送，10 分钟内有效"))
        return redirect(url_for(".reset_password"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/forgot_password.html", form=form), status


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed_form)
def reset_password() -> Any:
    form = ResetPasswordForm()
    if request.method == "GET" and session.get(RESET_PHONE):
        form.phone.data = session[RESET_PHONE]
    if form.validate_on_submit():
        keep_on_error()  # a wrong code uses up one of its tries
        try:
            reset_password_with_code(
                db(), phone=form.phone.data, code=form.code.data, new_password=form.new_password.data
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            session.pop(RESET_PHONE, None)
            ok(_("密码已重置，请用新密码登录"))
            return redirect(url_for(".login"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/reset_password.html", form=form), status


@bp.route("/account/phone", methods=["GET", "POST"])
@role_required(Role.APPLICANT.value)
def phone() -> Any:
    user = web_user()
    form = PhoneChangeForm()
    if form.validate_on_submit():
        if form.phone.data == user.phone:
            ok(_("手机号码未改变"))
            return redirect(url_for("applicant.profile"))
        change_phone(db(), user, form.phone.data)
        ok(_("验证码已发送到新号码，请输入验证码完成更换"))
        return redirect(url_for(".verify_phone"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/phone.html", form=form, current=user.phone), status


@bp.route("/account/profile", methods=["GET", "POST"])
@role_required(Role.APPLICANT.value)
def profile() -> Any:
    user = web_user()
    if user.borrower_id is None:
        return redirect(url_for("applicant.profile"))
    borrower = get_borrower(db(), user.borrower_id)
    form = ProfileForm(obj=borrower if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            update_borrower_profile(
                db(),
                borrower.id,
                name=form.name.data,
                established_on=form.established_on.data,
                employees=form.employees.data,
                actor_id=user.id,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("资料已保存"))
            return redirect(url_for("applicant.profile"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/profile.html", form=form, borrower=borrower), status


@bp.get("/notifications")
@role_required()
def notifications() -> Any:
    user = web_user()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    unread_only = request.args.get("unread") == "1"
    rows, total = list_notifications(
        db(),
        user.id,
        unread_only=unread_only,
        limit=NOTIFICATIONS_PER_PAGE,
        offset=(page - 1) * NOTIFICATIONS_PER_PAGE,
    )
    events = _events([r.event_id for r in rows if r.event_id])
    items = [
        {
            "id": r.id,
            "text": notification_text(r, events.get(r.event_id) if r.event_id else None),
            "link": notification_link(r, user.role),
            "created_at": r.created_at,
            "read": r.read_at is not None,
        }
        for r in rows
    ]
    pages = max(1, math.ceil(total / NOTIFICATIONS_PER_PAGE))
    return render_template(
        "account/notifications.html",
        items=items,
        total=total,
        page=page,
        pages=pages,
        unread_only=unread_only,
        form=ActionForm(),
    )


def _events(ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {e.id: e for e in db().scalars(select(StatusEvent).where(StatusEvent.id.in_(ids)))}


@bp.post("/notifications/<int:notification_id>/read")
@role_required()
def read_notification(notification_id: int) -> Any:
    form = ActionForm()
    if form.validate_on_submit():
        row = mark_read(db(), notification_id, user_id=web_user().id)
        link = notification_link(row, web_user().role)
        if link and request.form.get("go"):
            return redirect(link)
    return redirect(url_for(".notifications"))


@bp.post("/notifications/read-all")
@role_required()
def read_all_notifications() -> Any:
    form = ActionForm()
    if form.validate_on_submit():
        count = mark_all_read(db(), web_user().id)
        ok(_("已将 %(n)s 条通知标记为已读", n=count))
    return redirect(url_for(".notifications"))
