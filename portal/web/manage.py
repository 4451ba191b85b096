"""Product managers: the own institution's products in every status; create, edit, publish, retire."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.i18n import N_
from core.models import Role, User
from core.reference import INDUSTRY_SECTIONS
from matching.catalogue import ProductFunnel, RulePreview, preview_rules, product_funnels
from portal.auth import role_required, web_user
from portal.db import db
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.fields import ActionForm, split_codes
from portal.web.forms.manage import ProductForm
from products.models import Institution, Product
from products.services import (
    PRODUCT_FIELDS,
    ProductFilter,
    ProductInput,
    copy_product,
    create_product,
    get_product,
    list_products,
    pause_product,
    publish_product,
    resume_product,
    retire_product,
    update_product,
)

bp = Blueprint("manage", __name__, url_prefix="/manage")
PM = Role.PRODUCT_MANAGER.value


def _me() -> tuple[User, int]:
    user = web_user()
    if user.institution_id is None:
        raise PermissionDeniedError("product manager without institution")
    return user, user.institution_id


def _own(product_id: int) -> Product:
    _user, institution_id = _me()
    return get_product(db(), product_id, institution_id=institution_id)


def _input(form: ProductForm) -> ProductInput:
    return ProductInput(
        name=form.name.data,
        description=form.description.data or "",
        min_amount=form.min_amount.data,
        max_amount=form.max_amount.data,
        min_term_months=form.min_term_months.data,
        max_term_months=form.max_term_months.data,
        rate_min=form.rate_min.data,
        rate_max=form.rate_max.data,
        collateral=list(form.collateral.data),
        borrower_kinds=list(form.borrower_kinds.data),
        region_codes=list(form.region_codes.data or []),
        industries_excluded=list(
            dict.fromkeys([*(form.industry_sections.data or []), *split_codes(form.industries_excluded.data)])
        ),
        tags=list(form.tags.data or []),
        min_score=form.min_score.data,
        sla_hours=form.sla_hours.data,
    )


@bp.get("/products")
@role_required(PM)
def products() -> str:
    _user, institution_id = _me()
    rows = list_products(db(), ProductFilter(), status=None, institution_id=institution_id)
    return render_template(
        "manage/products.html",
        products=rows,
        funnels=product_funnels(db(), institution_id),
        empty=ProductFunnel(),
        action=ActionForm(),
    )


def _preview(form: ProductForm, institution_id: int) -> RulePreview:
    institution = db().get(Institution, institution_id)
    assert institution is not None
    return preview_rules(db(), _input(form), institution=institution)


def _previewing() -> bool:
    """The form's "预览匹配" button: show how many recent needs the rules match, save nothing."""
    return request.method == "POST" and "preview" in request.form


@bp.route("/products/new", methods=["GET", "POST"])
@role_required(PM)
def new_product() -> Any:
    user, institution_id = _me()
    form = ProductForm()
    valid = form.validate_on_submit()
    if valid and _previewing():
        return render_template(
            "manage/product_form.html", form=form, product=None, preview=_preview(form, institution_id)
        )
    if valid:
        try:
            product = create_product(db(), institution_id=institution_id, data=_input(form), actor_id=user.id)
        except InvalidInputError as exc:
            apply_errors(form, exc)
        else:
            ok(_("产品已保存为草稿，检查无误后即可上架"))
            return redirect(url_for(".products", _anchor=f"product-{product.id}"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("manage/product_form.html", form=form, product=None), status


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@role_required(PM)
def edit_product(product_id: int) -> Any:
    user, _institution_id = _me()
    product = _own(product_id)
    if request.method == "GET":
        data = {name: getattr(product, name) for name in PRODUCT_FIELDS}
        codes = product.industries_excluded
        data["industry_sections"] = [code for code in codes if code in INDUSTRY_SECTIONS]
        data["industries_excluded"] = " ".join(code for code in codes if code not in INDUSTRY_SECTIONS)
        form = ProductForm(formdata=None, data=data)
    else:
        form = ProductForm()
    valid = form.validate_on_submit()
    if valid and _previewing():
        preview = _preview(form, product.institution_id)
        return render_template("manage/product_form.html", form=form, product=product, preview=preview)
    if valid:
        try:
            update_product(db(), product, _input(form), actor_id=user.id)
        except InvalidInputError as exc:
            db().rollback()
            apply_errors(form, exc)
        except ConflictError as exc:
            db().rollback()
            flash_error(exc)
        else:
            ok(_("产品已更新"))
            return redirect(url_for(".products", _anchor=f"product-{product.id}"))
    status = INVALID_FORM if request.method == "POST" else 200
    return render_template("manage/product_form.html", form=form, product=product), status


STEPS = {
    "publish": (publish_product, N_("产品已上架，进入金融超市")),
    "retire": (retire_product, N_("产品已下架")),
    "pause": (pause_product, N_("产品已暂停：不再接收新的推送，金融超市暂不展示")),
    "resume": (resume_product, N_("产品已恢复上架")),
}


@bp.post("/products/<int:product_id>/<any(publish, retire, pause, resume):step>")
@role_required(PM)
def move(product_id: int, step: str) -> Any:
    user, _institution_id = _me()
    if ActionForm().validate_on_submit():
        product = _own(product_id)
        service, message = STEPS[step]
        try:
            service(db(), product, actor_id=user.id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_(message))
    return redirect(url_for(".products", _anchor=f"product-{product_id}"))


@bp.post("/products/<int:product_id>/copy")
@role_required(PM)
def copy(product_id: int) -> Any:
    user, _institution_id = _me()
    if ActionForm().validate_on_submit():
        product = copy_product(db(), _own(product_id), actor_id=user.id)
        ok(_("已复制为新的草稿，修改后即可上架"))
        return redirect(url_for(".edit_product", product_id=product.id))
    return redirect(url_for(".products"))
