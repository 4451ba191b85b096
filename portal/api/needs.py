"""Financing needs: applicants submit, follow and withdraw their own."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.errors import PermissionDeniedError
from core.i18n import N_
from core.models import Role
from matching.models import Need
from matching.needs import (
    NeedInput,
    RenewalInput,
    get_need,
    list_needs,
    need_views,
    submit_need,
    withdraw_need,
)
from matching.rematching import NeedChanges, edit_need
from portal.api import api_bp
from portal.api.common import page_body, settings
from portal.api.schemas.base import PageQuery
from portal.api.schemas.needs import NeedIn, NeedOut, NeedPage, NeedPatchIn
from portal.auth import api_user, token_auth
from portal.db import db
from portal.presenters import need_dict

APPLICANT = [Role.APPLICANT.value]


def own_borrower_id() -> int:
    user = api_user()
    if user.borrower_id is None:
        raise PermissionDeniedError("no borrower profile")
    return user.borrower_id


@api_bp.post("/needs")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.input(NeedIn, arg_name="body")
@api_bp.output(NeedOut, status_code=201)
@api_bp.doc(
    summary=N_("发布融资需求"),
    description=N_(
        "已有相同金额、期限和担保方式的进行中需求时 409 duplicate_need；进行中的需求超过 3 笔时 409 "
        "too_many_open_needs。指定 product_id 时，该产品可受理则首先推送给它，否则 422 并在 fields.product_id "
        "中给出原因。"
    ),
    responses=[401, 403, 409, 422],
)
def create_need(body: dict[str, Any]) -> dict[str, Any]:
    renewal = body.get("renewal")
    need = submit_need(
        db(),
        borrower_id=own_borrower_id(),
        actor_id=api_user().id,
        product_id=body.get("product_id"),
        data=NeedInput(
            amount=body["amount"],
            term_months=body["term_months"],
            purpose=body["purpose"],
            collateral=body["collateral"],
            declared_prior_loan=body["declared_prior_loan"],
            renewal=RenewalInput(**renewal) if renewal else None,
        ),
    )
    db().refresh(need)
    return _need_json(need)


@api_bp.get("/needs")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.input(PageQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(NeedPage)
@api_bp.doc(summary=N_("我的融资需求"))
def my_needs(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    rows, total = list_needs(db(), borrower_id=own_borrower_id(), page=page, per_page=per_page)
    items = [need_dict(view, detail=False) for view in need_views(db(), rows, with_events=False)]
    return page_body(items, total, page, per_page)


@api_bp.get("/needs/<int:need_id>")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(NeedOut)
@api_bp.doc(summary=N_("融资需求详情与进度"), responses=[401, 403, 404])
def need_detail(need_id: int) -> dict[str, Any]:
    return _need_json(get_need(db(), need_id, borrower_id=own_borrower_id()))


@api_bp.patch("/needs/<int:need_id>")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.input(NeedPatchIn, arg_name="body")
@api_bp.output(NeedOut)
@api_bp.doc(
    summary=N_("修改融资需求（尚无客户经理认领时）"),
    description=N_(
        "修改后立即重新匹配：不再符合的已推送线索关闭，并补推符合的产品。已有线索被认领时 409 need_claimed。"
    ),
    responses=[401, 403, 404, 409, 422],
)
def patch_need(need_id: int, body: dict[str, Any]) -> dict[str, Any]:
    need = edit_need(
        db(),
        get_need(db(), need_id, borrower_id=own_borrower_id()),
        NeedChanges(**body),
        actor_id=api_user().id,
        top_n=settings().dispatch_top_n,
    )
    return _need_json(need)


@api_bp.post("/needs/<int:need_id>/withdraw")
@api_bp.auth_required(token_auth, roles=APPLICANT)
@api_bp.output(NeedOut)
@api_bp.doc(summary=N_("撤回融资需求"), responses=[401, 403, 404, 409])
def withdraw(need_id: int) -> dict[str, Any]:
    need = withdraw_need(db(), get_need(db(), need_id, borrower_id=own_borrower_id()), actor_id=api_user().id)
    return _need_json(need)


def _need_json(need: Need) -> dict[str, Any]:
    (view,) = need_views(db(), [need], with_events=True)
    return need_dict(view)
