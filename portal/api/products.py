"""The product supermarket (public) and product management (product managers, own institution)."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import RAISE

from core.errors import InvalidInputError
from core.i18n import N_
from core.models import Role
from portal.api import api_bp
from portal.api.common import dumped, page_body, paged
from portal.api.schemas.products import ProductCreateIn, ProductFields, ProductOut, ProductPage, ProductQuery
from portal.auth import api_user, token_auth
from portal.db import db
from products.errors import ProductNotFoundError
from products.models import Product, ProductStatus
from products.services import (
    ProductFilter,
    ProductInput,
    create_product,
    get_product,
    list_products,
    product_input_from,
    publish_product,
    retire_product,
    update_product,
)

PM = [Role.PRODUCT_MANAGER.value]


def product_dict(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "institution": {"code": product.institution.code, "name": product.institution.name},
        "name": product.name,
        "description": product.description,
        "min_amount": product.min_amount,
        "max_amount": product.max_amount,
        "min_term_months": product.min_term_months,
        "max_term_months": product.max_term_months,
        "rate_min": product.rate_min,
        "rate_max": product.rate_max,
        "collateral": product.collateral,
        "borrower_kinds": product.borrower_kinds,
        "region_codes": product.region_codes,
        "industries_excluded": product.industries_excluded,
        "min_score": product.min_score,
        "tags": product.tags,
        "sla_hours": product.sla_hours,
        "follow_up_hours": product.follow_up_hours,
        "status": product.status,
    }


@api_bp.get("/products")
@api_bp.input(ProductQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(ProductPage)
@api_bp.doc(summary=N_("金融超市：已上架产品"))
def products(query: dict[str, Any]) -> Response:
    flt = ProductFilter(
        region_code=query.get("region_code"),
        borrower_kind=query.get("borrower_kind"),
        amount=query.get("amount"),
        tag=query.get("tag"),
        institution=query.get("institution"),
        collateral=query.get("collateral"),
    )
    rows, total = paged(list_products(db(), flt), query["page"], query["per_page"])
    # In ProductPage's shape, encoded as its dump would.
    return dumped(page_body([product_dict(p) for p in rows], total, query["page"], query["per_page"]))


def _own_product(product_id: int) -> Product:
    return get_product(db(), product_id, institution_id=api_user().institution_id)


@api_bp.get("/products/<int:product_id>")
@api_bp.output(ProductOut)
@api_bp.doc(summary=N_("产品详情（已上架）"), responses=[404])
def product_detail(product_id: int) -> dict[str, Any]:
    product = get_product(db(), product_id)
    if product.status != ProductStatus.PUBLISHED:
        raise ProductNotFoundError(str(product_id))
    return product_dict(product)


@api_bp.post("/products")
@api_bp.auth_required(token_auth, roles=PM)
@api_bp.input(ProductCreateIn, arg_name="body")
@api_bp.output(ProductOut, status_code=201)
@api_bp.doc(summary=N_("新建产品（草稿）"), responses=[401, 403, 422])
def create(body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    assert user.institution_id is not None
    product = create_product(
        db(), institution_id=user.institution_id, data=ProductInput(**body), actor_id=user.id
    )
    return product_dict(product)


@api_bp.patch("/products/<int:product_id>")
@api_bp.auth_required(token_auth, roles=PM)
@api_bp.input(ProductFields(partial=True), arg_name="body")
@api_bp.output(ProductOut)
@api_bp.doc(summary=N_("修改本机构产品"), responses=[401, 403, 404, 409, 422])
def patch(product_id: int, body: dict[str, Any]) -> dict[str, Any]:
    product = _own_product(product_id)
    if not body:
        raise InvalidInputError({"_schema": ["required"]})
    update_product(db(), product, product_input_from(product, **body), actor_id=api_user().id)
    return product_dict(product)


@api_bp.post("/products/<int:product_id>/publish")
@api_bp.auth_required(token_auth, roles=PM)
@api_bp.output(ProductOut)
@api_bp.doc(summary=N_("上架产品"), responses=[401, 403, 404, 409])
def publish(product_id: int) -> dict[str, Any]:
    product = publish_product(db(), _own_product(product_id), actor_id=api_user().id)
    return product_dict(product)


@api_bp.post("/products/<int:product_id>/retire")
@api_bp.auth_required(token_auth, roles=PM)
@api_bp.output(ProductOut)
@api_bp.doc(summary=N_("下架产品"), responses=[401, 403, 404, 409])
def retire(product_id: int) -> dict[str, Any]:
    product = retire_product(db(), _own_product(product_id), actor_id=api_user().id)
    return product_dict(product)
