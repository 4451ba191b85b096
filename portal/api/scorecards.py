"""Scorecard versions for administrators: list them and activate exactly one."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.i18n import N_
from core.models import Role
from credit_profile.scorecards import activate_scorecard, version_quality, versions_overview
from portal.api import api_bp
from portal.api.common import page_body, paged
from portal.api.schemas.base import PageQuery
from portal.api.schemas.credit import ActivateIn, ScorecardOut, ScorecardPage
from portal.auth import api_user, token_auth
from portal.db import db
from portal.scorecard_presenters import scorecard_dict

ADMIN = [Role.ADMIN.value]


@api_bp.get("/admin/scorecards")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(PageQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(ScorecardPage)
@api_bp.doc(
    summary=N_("评分卡版本"),
    description=N_(
        "active_version：当前评分使用的版本（没有启用的版本时为内置专家评分卡）；active：当前版本的指标，"
        "便于与各版本的训练方法、训练数据指纹和验证集 AUC/KS/Gini/PSI 对照。"
    ),
    responses=[401, 403],
)
def scorecards(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    overview = versions_overview(db())
    rows, total = paged(overview.rows, page, per_page)
    active, stability, active_row = overview.active, overview.stability, overview.active_row
    items = [scorecard_dict(row, active=active, stability=stability) for row in rows]
    body = page_body(items, total, page, per_page)
    body["active"] = scorecard_dict(active_row, active=active, stability=stability)
    body["active_version"] = body["active"]["version"]
    return body


@api_bp.post("/admin/scorecards/<version>/activate")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(ActivateIn, arg_name="body", schema_name="ScorecardActivateIn")
@api_bp.output(ScorecardOut)
@api_bp.doc(
    summary=N_("启用评分卡版本（同时停用其他版本，并重新计算所有评分）"),
    description=N_(
        "内置专家评分卡（版本 expert-2026.11）随时可以重新启用。验证集 AUC 低于当前版本、低于 0.6 或未知的版本，"
        "须在 reason 中说明理由（否则 422，reason: reason_required），理由记入审计记录。"
    ),
    responses=[401, 403, 404, 409, 422],
)
def activate(version: str, body: dict[str, Any]) -> dict[str, Any]:
    row = activate_scorecard(db(), version, actor_id=api_user().id, reason=body.get("reason"))
    return scorecard_dict(row, active=version_quality(row.artefact), stability={})
