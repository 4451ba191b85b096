"""Scorecard versions for administrators: list them and activate exactly one."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.i18n import N_
from core.models import Role
from credit_profile.models import ScorecardVersion
from credit_profile.scorecards import activate_scorecard, list_scorecards
from credit_profile.scoring import active_scorecard
from portal.api import api_bp
from portal.api.common import page_body, paged
from portal.api.schemas.base import PageQuery
from portal.api.schemas.credit import ScorecardOut, ScorecardPage
from portal.auth import api_user, token_auth
from portal.db import db

ADMIN = [Role.ADMIN.value]


def scorecard_dict(row: ScorecardVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "active": row.active,
        "created_at": row.created_at,
        "note": row.note,
        "target_meaning": row.artefact.get("target_meaning"),
        "characteristics": [c.get("name") for c in row.artefact.get("characteristics", [])],
    }


@api_bp.get("/admin/scorecards")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.input(PageQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(ScorecardPage)
@api_bp.doc(
    summary=N_("评分卡版本"),
    description=N_("active_version：当前评分使用的版本（没有启用的版本时为内置专家评分卡）。"),
    responses=[401, 403],
)
def scorecards(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    rows, total = paged(list_scorecards(db()), page, per_page)
    body = page_body([scorecard_dict(row) for row in rows], total, page, per_page)
    body["active_version"] = active_scorecard(db()).version
    return body


@api_bp.post("/admin/scorecards/<version>/activate")
@api_bp.auth_required(token_auth, roles=ADMIN)
@api_bp.output(ScorecardOut)
@api_bp.doc(
    summary=N_("启用评分卡版本（同时停用其他版本，并重新计算所有评分）"), responses=[401, 403, 404, 409]
)
def activate(version: str) -> dict[str, Any]:
    row = activate_scorecard(db(), version, actor_id=api_user().id)
    return scorecard_dict(row)
