"""Floor pages for bench/load.py: what the inbox and the 金融超市 cost without our own layers.

Each floor authenticates as its page does (the officer's web session or bearer token; none for the
products), runs the very statement its page runs for the same rows, as its page gets it (the inbox's
first page: `matching.inbox.page_statement`, the read model's join of the leads with everything they
refer to, kept once a process as `officer_leads` keeps it, with the loans' performance reports as a JSON
column for `GET /api/v1/leads`, which shows them, and without for the page, which does not; the published
catalogue: `products.services.products_statement`), and renders the rows with a minimal template or
`jsonify`: no read model views, presenter, form, schema, extra statement or base template.
bench/load.py reports each page's throughput as a share of its floor's, which is then
what our own layers cost. Registered only with BENCH_FLOOR_ROUTES=1 (never in production).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template

from core.models import Role
from matching.inbox import page_statement
from portal.auth import api_user, role_required, token_auth, web_user
from portal.db import db
from products.models import Product
from products.services import ProductFilter, products_statement

bp = Blueprint("floors", __name__, url_prefix="/bench/floor")
api_bp = Blueprint("floors_api", __name__, url_prefix="/api/v1/bench/floor")
OFFICER = Role.OFFICER.value
PER_PAGE = 20  # the first page of the inbox, page and API alike
LEAD_COLUMNS = ("id", "status", "borrower_kind", "region_code", "sla_due_at", "amount", "product_name")
PRODUCT_COLUMNS = ("id", "name", "max_amount", "rate_min", "rate_max")


def register_floors(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)


def _leads(officer_id: int, institution_id: int | None, *, reports: bool) -> list[Any]:
    """The inbox's first page, unfiltered: the statement `matching.inbox.officer_leads` runs."""
    values = {"officer_id": officer_id, "institution_id": institution_id, "limit": PER_PAGE, "offset": 0}
    return list(db().execute(page_statement(reports=reports), values))


def _products() -> list[Product]:
    """The published catalogue, unfiltered: the statement `products.services.list_products` runs."""
    return list(db().scalars(products_statement(ProductFilter())))


@bp.get("/leads")
@role_required(OFFICER)
def leads_page() -> str:
    user = web_user()
    return render_template("floors/leads.html", leads=_leads(user.id, user.institution_id, reports=False))


@api_bp.get("/leads")
@token_auth.login_required(role=OFFICER)
def leads_api() -> Response:
    user = api_user()
    rows = _leads(user.id, user.institution_id, reports=True)
    total = rows[0].total if rows else 0
    return jsonify(items=[{name: getattr(row, name) for name in LEAD_COLUMNS} for row in rows], total=total)


@bp.get("/products")
def products_page() -> str:
    return render_template("floors/products.html", products=_products())


@api_bp.get("/products")
def products_api() -> Response:
    rows = _products()  # all of them, as GET /api/v1/products reads them before taking its first page
    items = [{name: getattr(p, name) for name in PRODUCT_COLUMNS} for p in rows[:PER_PAGE]]
    return jsonify(items=items, total=len(rows))
