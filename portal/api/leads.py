"""Leads for bank officers: the own institution's inbox, claim, and every step to disbursement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app
from marshmallow import RAISE
from sqlalchemy import select

from core.models import Role, User
from core.reference import N_
from credit_profile.models import Borrower, CreditScore
from credit_profile.services import latest_scores
from matching.models import Lead, LeadStatus, Loan, LoanPerformance, Need
from matching.services import (
    LoanInput,
    claim_lead,
    get_lead,
    list_leads,
    loan_performances,
    loans_for_leads,
    report_performance,
    transition_lead,
)
from portal.api import api_bp
from portal.api.common import borrower_dict, page_body
from portal.api.schemas import (
    ClaimOut,
    LeadOut,
    LeadPage,
    LeadQuery,
    PerformanceIn,
    PerformanceOut,
    TransitionIn,
)
from portal.auth import api_user, token_auth
from portal.caching import kept_per_viewer, viewer_cached
from portal.db import db
from portal.preview import anonymised_profile
from products.models import Institution, Product

OFFICER = [Role.OFFICER.value]


@dataclass(frozen=True)
class _LeadRows:
    """Everything a page of leads refers to, each loaded with one query for the whole page."""

    needs: dict[int, Need]
    borrowers: dict[int, Borrower]
    institutions: dict[int, Institution]
    products: dict[int, Product]
    users: dict[int, User]
    contacts: dict[int, str | None]
    loans: dict[int, Loan]
    performance: dict[int, list[LoanPerformance]]
    scores: dict[int, CreditScore]


def _by_id(model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in db().scalars(select(model).where(model.id.in_(ids)))}


def _load_lead_rows(leads: Sequence[Lead], viewer_id: int) -> _LeadRows:
    session = db()
    needs: dict[int, Need] = _by_id(Need, {lead.need_id for lead in leads})
    borrowers: dict[int, Borrower] = _by_id(Borrower, {need.borrower_id for need in needs.values()})
    loans = loans_for_leads(session, [lead.id for lead in leads])
    performance = loan_performances(session, [loan.id for loan in loans.values()])
    reporters = {r.reported_by for reports in performance.values() for r in reports if r.reported_by}
    disclosed = {needs[lead.need_id].borrower_id for lead in leads if lead.claimed_by == viewer_id}
    contacts: dict[int, str | None] = {}
    if disclosed:
        phones = select(User.borrower_id, User.phone).where(User.borrower_id.in_(disclosed)).order_by(User.id)
        for borrower_id, phone in session.execute(phones):
            contacts.setdefault(borrower_id, phone)
    return _LeadRows(
        needs=needs,
        borrowers=borrowers,
        institutions=_by_id(Institution, {lead.institution_id for lead in leads}),
        products=_by_id(Product, {lead.product_id for lead in leads}),
        users=_by_id(User, {lead.claimed_by for lead in leads if lead.claimed_by} | reporters),
        contacts=contacts,
        loans=loans,
        performance=performance,
        scores=latest_scores(session, borrowers.keys()),
    )


def lead_dicts(leads: Sequence[Lead], *, viewer_id: int) -> list[dict[str, Any]]:
    """`lead_dict` of every lead of a page, in a fixed number of queries rather than several per lead."""
    if not leads:
        return []
    rows = _load_lead_rows(leads, viewer_id)
    return [_lead_dict(lead, viewer_id, rows) for lead in leads]


def lead_dict(lead: Lead, *, viewer_id: int) -> dict[str, Any]:
    """The lead as its institution sees it: who the borrower is only to the officer who claimed it.

    Before the claim, and to the institution's other officers, it is an anonymised profile.
    """
    return lead_dicts([lead], viewer_id=viewer_id)[0]


def _lead_dict(lead: Lead, viewer_id: int, rows: _LeadRows) -> dict[str, Any]:
    need = rows.needs.get(lead.need_id)
    borrower = rows.borrowers.get(need.borrower_id) if need else None
    institution = rows.institutions.get(lead.institution_id)
    product = rows.products.get(lead.product_id)
    assert need and borrower and institution and product
    disclosed = lead.claimed_by is not None and lead.claimed_by == viewer_id
    claimant = rows.users.get(lead.claimed_by) if lead.claimed_by else None
    contact = rows.contacts.get(borrower.id) if disclosed else None
    loan = rows.loans.get(lead.id)
    performance = rows.performance.get(loan.id, []) if loan else []
    score = rows.scores.get(borrower.id)
    return {
        "id": lead.id,
        "status": lead.status,
        "need_id": need.id,
        "institution": {"code": institution.code, "name": institution.name},
        "product": {"id": product.id, "name": product.name},
        "amount": need.amount,
        "term_months": need.term_months,
        "collateral": need.collateral,
        "purpose": need.purpose if disclosed else None,
        "is_renewal": need.is_renewal,
        "pushed_at": lead.pushed_at,
        "sla_due_at": lead.sla_due_at,
        "claimed_at": lead.claimed_at,
        "claimed_by": claimant.username if claimant else None,
        "reason_code": lead.reason_code,
        "stale_flagged_at": lead.stale_flagged_at,
        "explanation": lead.explanation,
        "profile": anonymised_profile(borrower, score),
        "borrower": borrower_dict(borrower, masked=False) if disclosed else None,
        "contact_phone": contact,
        "loan": {
            "amount": loan.amount,
            "rate": loan.rate,
            "term_months": loan.term_months,
            "collateral": loan.collateral,
            "disbursed_on": loan.disbursed_on,
            "first_loan_borrower": loan.first_loan_borrower,
            "renewal_without_repayment": loan.renewal_without_repayment,
            "performance": [
                performance_dict(
                    report, lead.id, rows.users.get(report.reported_by) if report.reported_by else None
                )
                for report in performance
            ],
        }
        if loan
        else None,
    }


def performance_dict(report: LoanPerformance, lead_id: int, reporter: User | None = None) -> dict[str, Any]:
    if reporter is None and report.reported_by:
        reporter = db().get(User, report.reported_by)
    return {
        "id": report.id,
        "lead_id": lead_id,
        "loan_id": report.loan_id,
        "as_of": report.as_of,
        "overdue_30": report.overdue_30,
        "overdue_90": report.overdue_90,
        "reported_at": report.reported_at,
        "reported_by": reporter.username if reporter else None,
    }


def _institution_id() -> int:
    institution_id = api_user().institution_id
    assert institution_id is not None
    return institution_id


@api_bp.get("/leads")
@kept_per_viewer
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.input(LeadQuery, location="query", arg_name="query", unknown=RAISE)
@api_bp.output(LeadPage)
@api_bp.doc(summary=N_("本机构线索"))
def leads(query: dict[str, Any]) -> Response:
    user = api_user()
    institution_id = _institution_id()

    def build() -> tuple[str, None]:
        page, per_page = query["page"], query["per_page"]
        rows, total = list_leads(
            db(),
            institution_id=institution_id,
            status=query.get("status"),
            limit=per_page,
            offset=(page - 1) * per_page,
        )
        body = page_body(lead_dicts(rows, viewer_id=user.id), total, page, per_page)
        return current_app.json.dumps(LeadPage().dump(body)), None

    # Given again while the database is unchanged (portal.caching); a Response passes @output untouched.
    return viewer_cached(build, mimetype="application/json")


@api_bp.get("/leads/<int:lead_id>")
@api_bp.auth_required(token_auth, roles=OFFICER)
@api_bp.output(LeadOut)
@api_bp.doc(summary=N_("线索详情（认领前为匿名预览）"), responses=[401, 403, 404])
def lead_detail(lead_id: int) -> dict[str, Any]:
    return lead_dict(get_lead(db(), lead_id, institution_id=_institution_id()), viewer_id=api_user().id)


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
    return lead_dict(lead, viewer_id=api_user().id)


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
    return performance_dict(report, lead_id)
