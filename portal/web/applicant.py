"""The applicant's pages: own profile, consents, credit profile and financing needs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from core.errors import ConflictError, InvalidInputError
from core.models import Role, User
from core.types import local_today
from credit_profile.borrowers import get_borrower
from credit_profile.consent_text import CONSENT_TEXT, CONSENT_TEXT_VERSION
from credit_profile.consents import get_consent, grant_consent, list_consents, revoke_consent
from credit_profile.scoring import has_data, own_profile
from matching.advice import nearest_products
from matching.errors import NeedNotFoundError
from matching.models import NeedStatus
from matching.needs import (
    WITHDRAWABLE,
    NeedInput,
    RenewalInput,
    get_need,
    list_needs,
    need_views,
    submit_need,
    withdraw_need,
)
from matching.recipients import consent_use_views, distinct_uses
from matching.rematching import NeedChanges, edit_need
from monitoring.enrolment import borrower_loans
from portal.auth import role_required, web_user
from portal.db import db
from portal.presenters import consent_dict, credit_reasons, near_product_dict, need_dict, use_dict
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.applicant import ConsentForm, NeedEditForm, NeedForm
from portal.web.forms.fields import ActionForm
from products.models import Product, ProductStatus
from products.services import institution_names

bp = Blueprint("applicant", __name__, url_prefix="/me")
APPLICANT = Role.APPLICANT.value


def _me() -> tuple[User, int]:
    user = web_user()
    if user.borrower_id is None:
        abort(403)
    return user, user.borrower_id


@bp.get("/")
@role_required(APPLICANT)
def profile() -> str:
    user, borrower_id = _me()
    return render_template("applicant/profile.html", user=user, borrower=get_borrower(db(), borrower_id))


# --- consents ----------------------------------------------------------------------------------


def _consents_page(form: ConsentForm, status: int = 200) -> tuple[str, int]:
    _user, borrower_id = _me()
    uses = distinct_uses(consent_use_views(db(), borrower_id))
    consents = [consent_dict(c, uses) for c in list_consents(db(), borrower_id)]
    unlinked = [use_dict(u) for u in uses if u.consent_id is None]
    html = render_template(
        "applicant/consents.html",
        loans=borrower_loans(db(), borrower_id),  # post-loan monitoring consent, asked per loan
        form=form,
        action=ActionForm(),
        consents=consents,
        unlinked=unlinked,
        consent_text=_(CONSENT_TEXT),
        consent_version=CONSENT_TEXT_VERSION,
    )
    return html, status


@bp.get("/consents")
@role_required(APPLICANT)
def consents() -> tuple[str, int]:
    form = ConsentForm(
        sources=["electricity", "tax", "bank_flow"], expires_on=local_today() + dt.timedelta(days=365)
    )
    return _consents_page(form)


@bp.post("/consents")
@role_required(APPLICANT)
def grant() -> Any:
    user, borrower_id = _me()
    form = ConsentForm()
    if form.validate_on_submit():
        try:
            grant_consent(
                db(),
                borrower_id=borrower_id,
                sources=form.sources.data,
                purpose=form.purpose.data,
                expires_on=form.expires_on.data,
                actor_id=user.id,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("授权已生效"))
            return redirect(url_for(".consents"))
    return _consents_page(form, INVALID_FORM)


@bp.post("/consents/<int:consent_id>/revoke")
@role_required(APPLICANT)
def revoke(consent_id: int) -> Any:
    user, borrower_id = _me()
    if ActionForm().validate_on_submit():
        consent = get_consent(db(), consent_id, borrower_id=borrower_id)
        try:
            revoke_consent(db(), consent, actor_id=user.id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("授权已撤回，平台已停止采集和对外提供这些数据"))
    return redirect(url_for(".consents"))


# --- credit profile ----------------------------------------------------------------------------


@bp.get("/credit")
@role_required(APPLICANT)
def credit() -> str:
    user, borrower_id = _me()
    # Scored on every visit, as GET /api/v1/credit-profile does, so it reflects consents revoked a
    # moment ago; the read is recorded as a use the applicant sees on the consents page.
    score = own_profile(db(), borrower_id, actor_id=user.id)
    return render_template(
        "applicant/credit.html", score=score, scored=has_data(score), reasons=credit_reasons(score)
    )


# --- financing needs ---------------------------------------------------------------------------


@bp.get("/needs")
@role_required(APPLICANT)
def needs() -> str:
    _user, borrower_id = _me()
    rows, _total = list_needs(db(), borrower_id=borrower_id)
    views = need_views(db(), rows, with_events=False)
    return render_template("applicant/needs.html", needs=[need_dict(v, detail=False) for v in views])


def _need_form(**kwargs: Any) -> NeedForm:
    institutions = institution_names(db())
    return NeedForm(institutions=institutions, **kwargs)


def _requested_product(form: NeedForm) -> Product | None:
    """The published product the form applies for, if any (a stale or foreign id shows no product)."""
    raw = (form.product_id.data or "").strip()
    if not raw.isdigit() or len(raw) > 9:
        return None
    product = db().get(Product, int(raw))
    return product if product is not None and product.status == ProductStatus.PUBLISHED else None


def _prefill(borrower_id: int) -> dict[str, Any]:
    """Initial values: a product applied for (`?product_id=`), or a need posted again (`?from=`)."""
    values: dict[str, Any] = {}
    product_id = request.args.get("product_id", "")
    if product_id.isdigit() and len(product_id) <= 9:
        values["product_id"] = product_id
    source = request.args.get("from", "")
    if source.isdigit() and len(source) <= 9:
        try:
            old = get_need(db(), int(source), borrower_id=borrower_id)
        except NeedNotFoundError:
            return values
        values.update(
            amount=old.amount, term_months=old.term_months, purpose=old.purpose, collateral=old.collateral,
            declared_prior_loan=old.declared_prior_loan,
        )  # fmt: skip
    return values


@bp.route("/needs/new", methods=["GET", "POST"])
@role_required(APPLICANT)
def new_need() -> Any:
    user, borrower_id = _me()
    form = _need_form() if request.method == "POST" else _need_form(**_prefill(borrower_id))
    product = _requested_product(form)
    if form.validate_on_submit():
        renewal = None
        if form.is_renewal.data:
            renewal = RenewalInput(
                current_amount=form.renewal_current_amount.data,
                matures_on=form.renewal_matures_on.data,
                institution_code=form.renewal_institution_code.data or None,
            )
        try:
            need = submit_need(
                db(),
                borrower_id=borrower_id,
                actor_id=user.id,
                product_id=product.id if product else None,
                data=NeedInput(
                    amount=form.amount.data,
                    term_months=form.term_months.data,
                    purpose=form.purpose.data,
                    collateral=form.collateral.data,
                    declared_prior_loan=form.declared_prior_loan.data,
                    renewal=renewal,
                ),
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("融资需求已提交，平台正在为您匹配产品"))
            return redirect(url_for(".need", need_id=need.id))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("applicant/need_new.html", form=form, product=product), status


@bp.get("/needs/<int:need_id>")
@role_required(APPLICANT)
def need(need_id: int) -> str:
    _user, borrower_id = _me()
    row = get_need(db(), need_id, borrower_id=borrower_id)
    view = need_dict(need_views(db(), [row], with_events=True)[0])
    nearest = (
        [near_product_dict(n) for n in nearest_products(db(), row)]
        if row.status == NeedStatus.UNMATCHED
        else []
    )
    return render_template(
        "applicant/need.html",
        need=view,
        withdrawable=row.status in WITHDRAWABLE,
        editable=row.status in WITHDRAWABLE and not any(lead["officer"] for lead in view["leads"]),
        nearest=nearest,
        action=ActionForm(),
    )


@bp.route("/needs/<int:need_id>/edit", methods=["GET", "POST"])
@role_required(APPLICANT)
def edit_need_page(need_id: int) -> Any:
    user, borrower_id = _me()
    row = get_need(db(), need_id, borrower_id=borrower_id)
    if request.method == "POST":
        form = NeedEditForm()
    else:
        form = NeedEditForm(
            amount=row.amount, term_months=row.term_months, purpose=row.purpose, collateral=row.collateral
        )
        for name in ("amount", "term_months"):
            # A suggestion from the need page ("把金额降到50万元"): prefilled, still to be confirmed.
            value = request.args.get(name, "")
            if value and len(value) <= 12:
                form[name].process(MultiDict({name: value}))
    if form.validate_on_submit():
        try:
            edit_need(
                db(),
                row,
                NeedChanges(
                    amount=form.amount.data,
                    term_months=form.term_months.data,
                    purpose=form.purpose.data,
                    collateral=form.collateral.data,
                ),
                actor_id=user.id,
                top_n=current_app.extensions["jihuitong.settings"].dispatch_top_n,
            )
        except InvalidInputError as exc:
            apply_errors(form, exc)
        except ConflictError as exc:
            flash_error(exc)
            return redirect(url_for(".need", need_id=need_id))
        else:
            ok(_("需求已修改，平台已重新为您匹配"))
            return redirect(url_for(".need", need_id=need_id))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("applicant/need_edit.html", form=form, need_id=need_id), status


@bp.post("/needs/<int:need_id>/withdraw")
@role_required(APPLICANT)
def withdraw(need_id: int) -> Any:
    user, borrower_id = _me()
    if ActionForm().validate_on_submit():
        row = get_need(db(), need_id, borrower_id=borrower_id)
        try:
            withdraw_need(db(), row, actor_id=user.id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("融资需求已撤回"))
    return redirect(url_for(".need", need_id=need_id))
