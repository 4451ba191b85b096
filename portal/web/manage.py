"""Product managers: the own institution's products in every status; create, edit, publish, retire."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from core.models import Role, User
from portal.auth import role_required, web_user
from portal.db import db
from portal.web.common import INVALID_FORM, apply_errors, flash_error, ok
from portal.web.forms.fields import ActionForm, split_codes
from portal.web.forms.manage import ProductForm
from products.models import Product
from products.services import (
    PRODUCT_FIELDS,
    ProductFilter,
    ProductInput,
    create_product,
    get_product,
    list_products,
    publish_product,
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
        industries_excluded=split_codes(form.industries_excluded.data),
        tags=list(form.tags.data or []),
        min_score=form.min_score.data,
        sla_hours=form.sla_hours.data,
    )


@bp.get("/products")
@role_required(PM)
def products() -> str:
    _user, institution_id = _me()
    rows = list_products(db(), ProductFilter(), status=None, institution_id=institution_id)
    return render_template("manage/products.html", products=rows, action=ActionForm())


@bp.route("/products/new", methods=["GET", "POST"])
@role_required(PM)
def new_product() -> Any:
    user, institution_id = _me()
    form = ProductForm()
    if form.validate_on_submit():
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
        data["industries_excluded"] = " ".join(product.industries_excluded)
        form = ProductForm(formdata=None, data=data)
    else:
        form = ProductForm()
    if form.validate_on_submit():
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


@bp.post("/products/<int:product_id>/<any(publish, retire):step>")
@role_required(PM)
def move(product_id: int, step: str) -> Any:
    user, _institution_id = _me()
    if ActionForm().validate_on_submit():
        product = _own(product_id)
        try:
            if step == "publish":
                publish_product(db(), product, actor_id=user.id)
            else:
                retire_product(db(), product, actor_id=user.id)
        except ConflictError as exc:
            flash_error(exc)
        else:
            ok(_("产品已上架，进入金融超市") if step == "publish" else _("产品已下架"))
    return redirect(url_for(".products"))
