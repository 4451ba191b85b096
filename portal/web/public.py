"""Public pages: the home page, the product supermarket (金融超市), and the probes of the load balancer."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g, render_template, request, send_from_directory
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.models import Role
from guarantees.schemes import active_badges, product_badges
from matching.advice import fitting_product_ids
from portal.db import db
from portal.fragments import filter_form
from portal.messages import error_message
from portal.web.forms.public import ProductFilterForm
from products.errors import ProductNotFoundError
from products.models import ProductStatus
from products.services import ProductFilter, get_product, institution_names, list_products

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)


@bp.get("/")
def home() -> str:
    return render_template("home.html")


@bp.get("/products")
def products() -> str:
    """The 金融超市."""
    borrower_id = _own_borrower_id()
    can_fit = borrower_id is not None
    institutions = institution_names(db())

    def filter_form_of_request() -> ProductFilterForm:
        return ProductFilterForm(formdata=request.args or None, institutions=institutions, fit=can_fit)

    # Without a query string there is nothing to read ("适合我" is on for an applicant): the form is built
    # only to be written afresh.
    form = filter_form_of_request() if request.args else None
    flt, fit = ProductFilter(), can_fit
    if form is not None and form.validate():
        flt = ProductFilter(
            region_code=form.region_code.data or None,
            borrower_kind=form.borrower_kind.data or None,
            amount=form.amount.data,
            tag=form.tag.data or None,
            institution=form.institution.data or None,
            collateral=form.collateral.data or None,
            keyword=form.q.data or None,
            sort=form.sort.data or None,
        )
        fit = can_fit and bool(form.fit.data)
    elif form is not None:
        fit = False
    items = list_products(db(), flt)
    if fit and borrower_id is not None:
        fitting = fitting_product_ids(db(), borrower_id, items)
        items = [p for p in items if p.id in fitting]
    filters = filter_form(
        "public/_product_filters.html",
        (tuple(institutions), can_fit),
        lambda: (form or filter_form_of_request(), can_fit),
    )
    return render_template(
        "public/products.html",
        filters=filters,
        amount=form.amount.data if form is not None else None,
        products=items,
        badges=active_badges(db()),
        can_fit=can_fit,
        fit=fit,
    )


def _own_borrower_id() -> int | None:
    """The signed-in applicant's borrower, for "适合我"; None for anyone else."""
    principal = current_user if current_user.is_authenticated else None
    if principal is None or principal.role != Role.APPLICANT:
        return None
    return principal.user.borrower_id


@bp.get("/products/<int:product_id>")
def product(product_id: int) -> str:
    item = get_product(db(), product_id)
    if item.status != ProductStatus.PUBLISHED:
        raise ProductNotFoundError(str(product_id))
    badges = product_badges(db(), [item.id]).get(item.id, [])
    return render_template("public/product.html", product=item, badges=badges)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the SVG icon."""
    return send_from_directory(current_app.static_folder or "static", "favicon.svg", mimetype="image/svg+xml")


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers requests. Touches nothing else, so a database outage never gets
    every web process restarted at once."""
    g.no_store = True
    return Response("ok", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the database answers too; 503 takes the machine out of the proxy's pool."""
    g.no_store = True
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.error("readiness probe: database unreachable: %s", exc)
        return Response(error_message("service_unavailable"), status=503, mimetype="text/plain")
    return Response("ok", mimetype="text/plain")
