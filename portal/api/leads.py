"""Leads for bank officers: the own institution's inbox, claim, and every step to disbursement."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from core.i18n import N_
from core.models import Role
from matching.inbox import PerformanceView, officer_lead, officer_leads
from matching.leads import claim_lead, report_performance, transition_lead
from matching.loans import LoanInput
from matching.models import LeadStatus
from portal.api import api_bp
from portal.api.schemas.leads import (
    ClaimOut,
    LeadOut,
    LeadPage,
    LeadQuery,
    PerformanceIn,
    PerformanceOut,
    TransitionIn,
)
from portal.auth import api_user, token_auth
from portal.db import db
from portal.presenters import lead_json, lead_page_json, performance_json

OFFICER = [Role.OFFICER.value]


def _lead_json(lead_id: int) -> dict[str, Any]:
    return lead_json(officer_lead(db(), lead_id, institution_id=_institution_id(), officer_id=api_user().id))


def _institution_id() -> int:
    institution_id = api_user().institution_id
    assert institution_id is not None
    return institution_id


@api_bp.get("/leads")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(LeadQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(LeadPage)
@api_bp.doc(summary=N_("本机构线索"))
def leads(query: dict[str, Any]) -> dict[str, Any]:
    page = officer_leads(
        db(),
        institution_id=_institution_id(),
        officer_id=api_user().id,
        status=query.get("status"),
        page=query["page"],
        per_page=query["per_page"],
    )
    return lead_page_json(page)


@api_bp.get("/leads/<int:lead_id>")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.output(LeadOut)
@api_bp.doc(summary=N_("线索详情（认领前为匿名预览）"), responses=[401, 403, 404])
def lead_detail(lead_id: int) -> dict[str, Any]:
    return _lead_json(lead_id)


@api_bp.post("/leads/<int:lead_id>/claim")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.output(ClaimOut)
@api_bp.doc(summary=N_("认领线索（只有一位客户经理能成功）"), responses=[401, 403, 404, 409])
def claim(lead_id: int) -> dict[str, Any]:
    user = api_user()
    lead = claim_lead(db(), lead_id, officer_id=user.id, institution_id=_institution_id())
    return {"id": lead.id, "status": LeadStatus.CLAIMED.value, "claimed_by": user.username}


@api_bp.post("/leads/<int:lead_id>/transition")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(TransitionIn, arg_name="body")
@api_bp.output(LeadOut)
@api_bp.doc(summary=N_("更新线索进度：已联系、已审批、已放款或拒绝"), responses=[401, 403, 404, 409, 422])
def transition(lead_id: int, body: dict[str, Any]) -> dict[str, Any]:
    loan = body.get("loan")
    lead = transition_lead(
        db(),
        lead_id,
        to=body["to"],
        officer_id=api_user().id,
        institution_id=_institution_id(),
        reason_code=body.get("reason_code"),
        note=body.get("note"),
        loan=LoanInput(**loan) if loan else None,
    )
    return _lead_json(lead.id)


@api_bp.post("/leads/<int:lead_id>/performance")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(PerformanceIn, arg_name="body")
@api_bp.output(PerformanceOut, status_code=201)
@api_bp.doc(
    summary=N_("报告已放款贷款的逾期表现（用于评分卡训练）"),
    description=N_(
        "overdue_30 / overdue_90：截至 as_of 是否曾逾期 30 / 90 天以上。本机构任一客户经理均可报告；"
        "同一 as_of 的后一次报告更正前一次。线索未放款时 409。"
    ),
    responses=[401, 403, 404, 409, 422],
)
def performance(lead_id: int, body: dict[str, Any]) -> dict[str, Any]:
    report = report_performance(
        db(),
        lead_id,
        officer_id=api_user().id,
        institution_id=_institution_id(),
        as_of=body["as_of"],
        overdue_30=body["overdue_30"],
        overdue_90=body["overdue_90"],
    )
    return performance_json(PerformanceView.of(report, lead_id=lead_id, reported_by=api_user().username))
