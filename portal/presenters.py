"""What the domain's read models look like to the web pages (template context) and to the JSON API (dicts
that the API's schemas dump), shared by both. Presenters run no queries: every row they show was read by
the service that made the dataclass or object they are given.
"""

from __future__ import annotations

from typing import Any

from matching.inbox import BorrowerIdentity, LeadPage, LeadView, LoanView, PerformanceView


def page_body(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# --- leads, as an officer of their institution sees them (matching.inbox) -----------------------


def performance_json(report: PerformanceView) -> dict[str, Any]:
    return {
        "id": report.id,
        "lead_id": report.lead_id,
        "loan_id": report.loan_id,
        "as_of": report.as_of,
        "overdue_30": report.overdue_30,
        "overdue_90": report.overdue_90,
        "reported_at": report.reported_at,
        "reported_by": report.reported_by,
    }


def _borrower_json(borrower: BorrowerIdentity) -> dict[str, Any]:
    return {
        "id": borrower.id,
        "kind": borrower.kind,
        "name": borrower.name,
        "uscc": borrower.uscc,
        "id_number": borrower.id_number,
        "region_code": borrower.region_code,
        "industry_code": borrower.industry_code,
        "established_on": borrower.established_on,
        "employees": borrower.employees,
    }


def _loan_json(loan: LoanView) -> dict[str, Any]:
    return {
        "amount": loan.amount,
        "rate": loan.rate,
        "term_months": loan.term_months,
        "collateral": loan.collateral,
        "disbursed_on": loan.disbursed_on,
        "first_loan_borrower": loan.first_loan_borrower,
        "renewal_without_repayment": loan.renewal_without_repayment,
        "performance": [performance_json(report) for report in loan.performance],
    }


def lead_json(lead: LeadView) -> dict[str, Any]:
    """The lead as the API shows it (LeadOut)."""
    profile = lead.profile
    return {
        "id": lead.id,
        "status": lead.status,
        "need_id": lead.need_id,
        "institution": {"code": lead.institution.code, "name": lead.institution.name},
        "product": {"id": lead.product.id, "name": lead.product.name},
        "amount": lead.amount,
        "term_months": lead.term_months,
        "collateral": lead.collateral,
        "purpose": lead.purpose,
        "is_renewal": lead.is_renewal,
        "pushed_at": lead.pushed_at,
        "sla_due_at": lead.sla_due_at,
        "claimed_at": lead.claimed_at,
        "claimed_by": lead.claimed_by,
        "reason_code": lead.reason_code,
        "stale_flagged_at": lead.stale_flagged_at,
        "explanation": lead.explanation,
        "profile": {
            "kind": profile.kind,
            "region_code": profile.region_code,
            "industry_section": profile.industry_section,
            "size_band": profile.size_band,
            "score_band": profile.score_band,
        },
        "borrower": _borrower_json(lead.borrower) if lead.borrower else None,
        "contact_phone": lead.contact_phone,
        "loan": _loan_json(lead.loan) if lead.loan else None,
    }


def lead_page_json(page: LeadPage) -> dict[str, Any]:
    """A page of leads as the API shows it (LeadPage)."""
    return page_body([lead_json(lead) for lead in page.items], page.total, page.page, page.per_page)


def inbox_context(page: LeadPage, status: str | None) -> dict[str, Any]:
    """The inbox page's template context: the page's leads (LeadView) and its pager."""
    return {
        "leads": page.items,
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "status": status,
    }
