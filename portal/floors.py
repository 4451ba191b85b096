"""Floor pages for bench/load.py: what the inbox and the 金融超市 cost without our own layers.

Each floor authenticates as its page does (the officer's web session or bearer token; none for the
products), runs one indexed SELECT for the same rows as its page (the page's leads or the published
products, columns of their own table only), and renders them with a minimal template or `jsonify`: no
read model, presenter, form, schema or base template. bench/load.py reports each page's throughput as
a share of its floor's. Registered only with BENCH_FLOOR_ROUTES=1 (never in production).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template
from sqlalchemy import select

from core.models import Role
from matching.inbox import inbox_order
from matching.models import Lead
from portal.auth import api_user, role_required, token_auth, web_user
from portal.db import db
from products.models import Product, ProductStatus

bp = Blueprint("floors", __name__, url_prefix="/bench/floor")
api_bp = Blueprint("floors_api", __name__, url_prefix="/api/v1/bench/floor")
OFFICER = Role.OFFICER.value
PER_PAGE = 20  # the first page of the inbox, page and API alike


def register_floors(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)


def _leads(institution_id: int | None) -> list[Any]:
    columns = (Lead.id, Lead.status, Lead.pushed_at, Lead.sla_due_at, Lead.region_code, Lead.borrower_kind)
    stmt = (
        select(*columns)
        .where(Lead.institution_id == institution_id)
        .order_by(*inbox_order())  # the inbox's own order (deadline first), so the floor sorts as it does
        .limit(PER_PAGE)
    )
    return list(db().execute(stmt))


def _products(limit: int | None = None) -> list[Any]:
    stmt = (
        select(Product.id, Product.name, Product.max_amount, Product.rate_min, Product.rate_max)
        .where(Product.status == ProductStatus.PUBLISHED)
        .order_by(Product.id)
        .limit(limit)
    )
    return list(db().execute(stmt))


@bp.get("/leads")
@role_required(OFFICER)
def leads_page() -> str:
    return render_template("floors/leads.html", leads=_leads(web_user().institution_id))


@api_bp.get("/leads")
@token_auth.login_required(role=OFFICER)
def leads_api() -> Response:
    rows = _leads(api_user().institution_id)
    return jsonify(items=[dict(row._mapping) for row in rows], total=len(rows))


@bp.get("/products")
def products_page() -> str:
    return render_template("floors/products.html", products=_products())


@api_bp.get("/products")
def products_api() -> Response:
    rows = _products(PER_PAGE)
    return jsonify(items=[dict(row._mapping) for row in rows], total=len(rows))
