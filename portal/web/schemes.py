"""Scheme maintenance: every finance office (and the admin) reads the schemes with their terms; the city
finance office or an administrator creates and edits them and pauses or resumes them with a reason.
Each change calls the same service as the JSON API (guarantees.schemes) and is audited there as a
status event of the scheme, with the fields changed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import InvalidInputError, PermissionDeniedError
from core.i18n import N_
from core.models import Role, StatusEvent, User
from core.reference import CITY_CODE
from guarantees import schemes
from guarantees.models import Scheme
from portal.auth import role_required, web_user
from portal.db import db
from portal.web.common import INVALID_FORM, apply_errors, first_submission, ok, repeated
from portal.web.forms.fields import ActionForm
from portal.web.forms.schemes import PauseForm, SchemeForm
from products.services import active_institutions, institution_code, institution_names_by_id

bp = Blueprint("schemes", __name__, url_prefix="/finance/schemes")
FINANCE, ADMIN = Role.FINANCE.value, Role.ADMIN.value
# The form's field for each of the service's field codes it does not name alike.
ALIASES = {
    "operator_code": "operator_id",
    "loss_shares": "loss_bank",
    "funding_shares": "fund_province",
    "fee_tiers": "later_rate",
    "tenor_bands": "loss_bank",
    "eligibility": "region_codes",
}


# What the edit history calls the service's fields the form shows under other names.
CHANGED_NAMES = {
    "loss_shares": N_("损失分担比例"),
    "funding_shares": N_("出资比例"),
    "fee_tiers": N_("日费率"),
    "eligibility": N_("适用范围"),
    "tenor_bands": N_("期限分档比例"),
    "operator_id": N_("管理方"),
}


def _changed_names(form: SchemeForm) -> dict[str, str]:
    names = {field.name: str(field.label.text) for field in form}
    return {**names, **{k: _(v) for k, v in CHANGED_NAMES.items()}}


def _refused(form: SchemeForm, exc: InvalidInputError) -> None:
    # `code: taken` is worded for institutions under "code"; a scheme's code gets the general wording.
    fields = {("scheme_code" if k == "code" else k): v for k, v in exc.fields.items()}
    apply_errors(form, InvalidInputError(fields), aliases=ALIASES)


def may_maintain(user: User) -> bool:
    """Schemes are the city's: its finance office or an administrator changes them; counties read."""
    return user.role == ADMIN or (user.role == FINANCE and user.region_code == CITY_CODE)


def _maintainer() -> User:
    user = web_user()
    if not may_maintain(user):
        raise PermissionDeniedError("schemes are maintained by the city finance office")
    return user


def _operators() -> list[tuple[str, str]]:
    return [(str(o.id), f"{o.name}（{o.code}）") for o in active_institutions(db(), "guarantor")]


def _operator_code(form: SchemeForm) -> str:
    return institution_code(db(), int(form.operator_id.data)) or ""


def _list_page(bound: dict[int, PauseForm] | None = None, status: int = 200) -> tuple[str, int]:
    user = web_user()
    names = institution_names_by_id(db())
    html = render_template(
        "schemes/index.html",
        schemes=schemes.list_schemes(db()),
        operators=names,
        maintain=may_maintain(user),
        bound=bound or {},
        action=ActionForm(),
    )
    return html, status


@bp.get("/")
@role_required(FINANCE, ADMIN)
def index() -> tuple[str, int]:
    return _list_page()


@bp.route("/new", methods=["GET", "POST"])
@role_required(FINANCE, ADMIN)
def new() -> Any:
    user = _maintainer()
    form = SchemeForm(operators=_operators())
    if form.validate_on_submit():
        if not first_submission("schemes.new"):
            repeated()
            return redirect(url_for(".index"))
        try:
            scheme = schemes.create_scheme(db(), form.scheme_input(_operator_code(form)), actor_id=user.id)
        except InvalidInputError as exc:
            _refused(form, exc)
        else:
            ok(_("方案“%(n)s”已创建", n=scheme.name))
            return redirect(url_for(".index"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("schemes/edit.html", form=form, scheme=None, history=[], names={}), status


@bp.route("/<int:scheme_id>/edit", methods=["GET", "POST"])
@role_required(FINANCE, ADMIN)
def edit(scheme_id: int) -> Any:
    user = _maintainer()
    scheme = schemes.get_scheme(db(), scheme_id)
    if request.method == "GET":
        form = SchemeForm(
            formdata=None, operators=_operators(), data=SchemeForm.data_of(scheme, scheme.operator_id)
        )
    else:
        form = SchemeForm(operators=_operators())
    if form.validate_on_submit():
        try:
            schemes.update_scheme(
                db(), scheme.id, form.scheme_input(_operator_code(form), keep=scheme), actor_id=user.id
            )
        except InvalidInputError as exc:
            _refused(form, exc)
        else:
            ok(_("方案“%(n)s”已保存", n=scheme.name))
            return redirect(url_for(".index"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template(
        "schemes/edit.html", form=form, scheme=scheme, history=_history(scheme), names=_changed_names(form)
    ), status


def _history(scheme: Scheme) -> list[StatusEvent]:
    return schemes.scheme_history(db(), scheme.id)


@bp.post("/<int:scheme_id>/pause")
@role_required(FINANCE, ADMIN)
def pause(scheme_id: int) -> Any:
    user = _maintainer()
    scheme = schemes.get_scheme(db(), scheme_id)
    form = PauseForm()
    if not form.validate_on_submit():
        return _list_page({scheme_id: form}, INVALID_FORM)
    if schemes.set_paused(db(), scheme, paused=True, reason=form.reason.data, actor_id=user.id):
        ok(_("方案“%(n)s”已暂停，新业务不再受理", n=scheme.name))
    else:
        ok(_("方案“%(n)s”本已暂停，未作改动", n=scheme.name))
    return redirect(url_for(".index"))


@bp.post("/<int:scheme_id>/resume")
@role_required(FINANCE, ADMIN)
def resume(scheme_id: int) -> Any:
    user = _maintainer()
    scheme = schemes.get_scheme(db(), scheme_id)
    if ActionForm().validate_on_submit():
        if schemes.set_paused(db(), scheme, paused=False, reason=None, actor_id=user.id):
            ok(_("方案“%(n)s”已恢复受理", n=scheme.name))
        else:
            ok(_("方案“%(n)s”本在运行，未作改动", n=scheme.name))
    return redirect(url_for(".index"))
