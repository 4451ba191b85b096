"""Public pages: the home page and the product supermarket (金融超市)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request, send_from_directory

from portal.db import db
from portal.forms import ProductFilterForm
from products.errors import ProductNotFoundError
from products.models import ProductStatus
from products.services import ProductFilter, get_product, list_institutions, list_products

bp = Blueprint("public", __name__)


@bp.get("/")
def home() -> str:
    return render_template("home.html")


def institution_choices() -> list[tuple[str, str]]:
    return [(i.code, i.name) for i in list_institutions(db())]


@bp.get("/products")
def products() -> str:
    form = ProductFilterForm(formdata=request.args, institutions=institution_choices())
    flt = ProductFilter()
    if request.args and form.validate():
        flt = ProductFilter(
            region_code=form.region_code.data or None,
            borrower_kind=form.borrower_kind.data or None,
            amount=form.amount.data,
            tag=form.tag.data or None,
            institution=form.institution.data or None,
            collateral=form.collateral.data or None,
        )
    items = list_products(db(), flt)
    return render_template("public/products.html", form=form, products=items)


@bp.get("/products/<int:product_id>")
def product(product_id: int) -> str:
    item = get_product(db(), product_id)
    if item.status != ProductStatus.PUBLISHED:
        raise ProductNotFoundError(str(product_id))
    return render_template("public/product.html", product=item)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the SVG icon."""
    return send_from_directory(current_app.static_folder or "static", "favicon.svg", mimetype="image/svg+xml")
