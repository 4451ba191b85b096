"""Floor pages for bench/load.py: what the inbox and the 金融超市 cost without our own layers.

Each floor authenticates as its page does (the officer's web session or bearer token; none for the
products), runs the very statement its page runs for the same rows, built by the same function (the
inbox's first page: `matching.inbox.inbox_statement`, the read model's join of the leads with everything
they refer to; the published catalogue: `products.services.products_statement`), and renders the rows
with a minimal template or `jsonify`: no read model views, presenter, form, schema, extra statement or
base template. (`GET /api/v1/leads` also reads its loans' performance reports, as a JSON column of the same
statement; its floor, like the inbox page's, does not: that column counts among the API's own costs.)
bench/load.py reports each page's throughput as a share of its floor's, which is then
what our own layers cost. Registered only with BENCH_FLOOR_ROUTES=1 (never in production).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template

from core.models import Role
from matching.inbox import inbox_statement
from matching.models import Lead
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


def _leads(officer_id: int, institution_id: int | None) -> list[Any]:
    """The inbox's first page, unfiltered: the statement `matching.inbox.officer_leads` runs."""
    stmt = inbox_statement(officer_id, [Lead.institution_id == institution_id], page=1, per_page=PER_PAGE)
    return list(db().execute(stmt))


def _products() -> list[Product]:
    """The published catalogue, unfiltered: the statement `products.services.list_products` runs."""
    return list(db().scalars(products_statement(ProductFilter())))


@bp.get("/leads")
@role_required(OFFICER)
def leads_page() -> str:
    user = web_user()
    return render_template("floors/leads.html", leads=_leads(user.id, user.institution_id))


@api_bp.get("/leads")
@token_auth.login_required(role=OFFICER)
def leads_api() -> Response:
    user = api_user()
    rows = _leads(user.id, user.institution_id)
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
