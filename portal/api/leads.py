"""Leads for bank officers: the own institution's inbox, claim, and every step to disbursement."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import RAISE

from core.i18n import N_
from core.models import Role
from matching.dispatch import DispatchPolicy
from matching.errors import ImplausibleLoanError
from matching.inbox import InboxFilter, lead_event, officer_lead, officer_leads
from matching.lead_views import PerformanceView
from matching.leads import (
    add_note,
    assign_lead,
    claim_lead,
    decline_lead,
    report_performance,
    transition_lead,
)
from matching.loans import CORRECTABLE_FIELDS, LoanInput, correct_loan
from matching.models import LeadStatus
from portal.api import api_bp
from portal.api.common import dumped, settings
from portal.api.schemas.leads import (
    AssignIn,
    ClaimOut,
    DeclineIn,
    LeadEventOut,
    LeadOut,
    LeadPage,
    LeadQuery,
    LoanCorrectionIn,
    NoteIn,
    PerformanceIn,
    PerformanceOut,
    TransitionIn,
)
from portal.auth import api_user, token_auth
from portal.db import db
from portal.messages import error_message, field_messages
from portal.presenters import lead_event_json, lead_json, lead_page_json, performance_json

OFFICER = [Role.OFFICER.value]


@api_bp.errorhandler(ImplausibleLoanError)
def implausible_loan(error: ImplausibleLoanError) -> tuple[dict[str, Any], int]:
    """The contract names the plausibility rules' codes in `fields.loan`; the message explains them."""
    codes = error.fields.get("loan", [])
    message = "；".join([error_message(error.code), *field_messages({"loan": codes})["loan"]])
    return {"error": {"code": error.code, "message": message, "fields": {"loan": codes}}}, 422


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
def leads(query: dict[str, Any]) -> Response:
    filters = InboxFilter(
        status=query.get("status"),
        mine=bool(query.get("mine")),
        product_id=query.get("product_id"),
        region_code=query.get("region_code"),
        amount_min=query.get("amount_min"),
        amount_max=query.get("amount_max"),
        q=query.get("q"),
    )
    page = officer_leads(
        db(),
        institution_id=_institution_id(),
        officer_id=api_user().id,
        filters=filters,
        page=query["page"],
        per_page=query["per_page"],
    )
    return dumped(lead_page_json(page))  # in LeadPage's shape, encoded as its dump would


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
        confirm_outlier=body["confirm_outlier"],
    )
    return _lead_json(lead.id)


@api_bp.post("/leads/<int:lead_id>/decline")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(DeclineIn, arg_name="body")
@api_bp.output(LeadOut)
@api_bp.doc(
    summary=N_("认领前婉拒线索（需求继续推送给其他机构）"),
    description=N_("本机构任一客户经理均可，线索须为待认领；reason_code 取自公布的拒绝原因。"),
    responses=[401, 403, 404, 409, 422],
)
def decline(lead_id: int, body: dict[str, Any]) -> dict[str, Any]:
    lead = decline_lead(
        db(),
        lead_id,
        officer_id=api_user().id,
        institution_id=_institution_id(),
        reason_code=body["reason_code"],
        note=body.get("note"),
        policy=DispatchPolicy.from_settings(settings()),
    )
    return _lead_json(lead.id)


@api_bp.post("/leads/<int:lead_id>/assign")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(AssignIn, arg_name="body")
@api_bp.output(LeadOut)
@api_bp.doc(summary=N_("将已认领的线索移交给同机构的另一位客户经理"), responses=[401, 403, 404, 409, 422])
def assign(lead_id: int, body: dict[str, Any]) -> dict[str, Any]:
    lead = assign_lead(
        db(), lead_id, officer_id=api_user().id, institution_id=_institution_id(), username=body["username"]
    )
    return _lead_json(lead.id)


@api_bp.post("/leads/<int:lead_id>/notes")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(NoteIn, arg_name="body")
@api_bp.output(LeadEventOut, status_code=201)
@api_bp.doc(summary=N_("为线索添加跟进备注（认领人）"), responses=[401, 403, 404, 409, 422])
def notes(lead_id: int, body: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    event = add_note(db(), lead_id, officer_id=user.id, institution_id=_institution_id(), text=body["text"])
    return lead_event_json(lead_event(event, user.username, with_notes=True))


@api_bp.patch("/leads/<int:lead_id>/loan")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(LoanCorrectionIn, arg_name="body")
@api_bp.output(LeadOut)
@api_bp.doc(
    summary=N_("更正放款信息（认领人，放款后 30 天内，须说明原因）"),
    description=N_("与登记放款相同的合理性规则；原值保留在审计记录中，统计数据随更正后的贷款变化。"),
    responses=[401, 403, 404, 409, 422],
)
def correct(lead_id: int, body: dict[str, Any]) -> dict[str, Any]:
    changes = {name: body[name] for name in CORRECTABLE_FIELDS if name in body}
    correct_loan(
        db(),
        lead_id,
        officer_id=api_user().id,
        institution_id=_institution_id(),
        changes=changes,
        reason=body["reason"],
        confirm_outlier=body["confirm_outlier"],
    )
    return _lead_json(lead_id)


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
