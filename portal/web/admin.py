"""Platform administrators: institutions, staff accounts and data providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.accounts import create_user, list_users
from core.errors import InvalidInputError
from core.models import Role, User
from credit_profile.ingestion import create_provider
from portal.auth import role_required
from portal.db import db
from portal.web.common import INVALID_FORM, apply_errors, ok
from portal.web.forms.admin import InstitutionForm, ProviderForm, UserForm
from products.services import create_institution, list_institutions

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = Role.ADMIN.value


def _users() -> Sequence[User]:
    return list_users(db())


@bp.route("/institutions", methods=["GET", "POST"])
@role_required(ADMIN)
def institutions() -> Any:
    form = InstitutionForm()
    if form.validate_on_submit():
        try:
            create_institution(db(), code=form.code.data, name=form.name.data, kind=form.kind.data)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("机构已创建"))
            return redirect(url_for(".institutions"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("admin/institutions.html", form=form, institutions=list_institutions(db())), status


@bp.route("/users", methods=["GET", "POST"])
@role_required(ADMIN)
def users() -> Any:
    institutions = list_institutions(db())
    form = UserForm(institutions=[(str(i.id), f"{i.name}（{i.code}）") for i in institutions])
    if form.validate_on_submit():
        role = form.role.data
        staff = role in (Role.OFFICER, Role.PRODUCT_MANAGER)
        try:
            create_user(
                db(),
                username=form.username.data,
                password=form.password.data,
                role=role,
                phone=form.phone.data or None,
                institution_id=int(form.institution_id.data) if staff else None,
                region_code=form.region_code.data if role == Role.FINANCE else None,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("用户已创建"))
            return redirect(url_for(".users"))
    status = INVALID_FORM if request.method == "POST" else 200
    names = {i.id: i.name for i in institutions}
    return render_template("admin/users.html", form=form, users=_users(), institution_names=names), status


@bp.route("/providers", methods=["GET", "POST"])
@role_required(ADMIN)
def providers() -> Any:
    form = ProviderForm()
    created = None
    if form.validate_on_submit():
        try:
            provider, secret = create_provider(db(), name=form.name.data, source=form.source.data)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            # Rendered once, not redirected: a flash would put the secret into the session cookie.
            created = {
                "name": provider.name,
                "source": provider.source,
                "key": provider.key,
                "secret": secret,
            }
            form = ProviderForm(formdata=None)
    status = INVALID_FORM if request.method == "POST" and created is None else 200
    return render_template("admin/providers.html", form=form, created=created), status
