"""Login, logout and applicant registration."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core.accounts import authenticate, create_user
from core.errors import AuthenticationError, InvalidInputError
from core.models import Role
from credit_profile.borrowers import BorrowerInput, register_borrower
from portal.auth import end_web_session, start_web_session
from portal.db import db
from portal.extensions import limiter
from portal.web.common import INVALID_FORM, apply_errors, ok, role_home, safe_next
from portal.web.forms.account import LoginForm, RegisterForm
from portal.web.forms.fields import ActionForm

bp = Blueprint("account", __name__)


def _login_limit() -> str:
    limit: str = current_app.extensions["jihuitong.settings"].login_rate_limit
    return limit


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(role_home(current_user.role))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(db(), form.username.data, form.password.data)
        except AuthenticationError:
            form.password.errors = [*form.password.errors, _("用户名或密码不正确")]
        else:
            # Logging in over a live session (another account on a shared phone) ends that one first.
            end_web_session()
            start_web_session(user)
            ok(_("登录成功"))
            return redirect(safe_next(request.args.get("next")) or role_home(user.role))
    status = INVALID_FORM if request.method == "POST" else 200
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
            borrower = register_borrower(
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
            )
            user = create_user(
                db(),
                username=form.username.data,
                password=form.password.data,
                role=Role.APPLICANT,
                phone=form.phone.data,
                borrower_id=borrower.id,
            )
        except InvalidInputError as exc:
            db().rollback()
            apply_errors(form, exc)
        else:
            # Registering over a live session (a shared phone) ends that one first, as logging in does.
            end_web_session()
            start_web_session(user)
            ok(_("注册成功，欢迎使用吉惠通。建议先完成数据授权，再发布融资需求。"))
            return redirect(url_for("applicant.consents"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("account/register.html", form=form), status
