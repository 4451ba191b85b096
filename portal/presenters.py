"""What the domain's read models look like to the web pages (template context) and to the JSON API (dicts
that the API's schemas dump), shared by both. Presenters run no queries: every row they show was read by
the service that made the dataclass they are given (matching.inbox for leads, matching.needs.need_views
for an applicant's needs, matching.recipients for consent uses and recipients).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from core.i18n import N_
from core.models import StatusEvent
from credit_profile.consents import effective_status
from credit_profile.models import Consent, CreditScore, DataPurge
from matching.advice import NearProduct
from matching.lead_views import BorrowerIdentity, LeadEvent, LeadPage, LeadView, LoanView, PerformanceView
from matching.loans import Declarations
from matching.needs import NeedView
from matching.recipients import ConsentRecipient, UseView
from portal.timeline import describe_event


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
        "correctable_until": loan.correctable_until,
    }


def lead_event_json(event: LeadEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "kind": event.kind,
        "from_status": event.from_status,
        "status": event.to_status,
        "actor": event.actor,
        "note": event.note,
        "data": event.data,
    }


def _declarations_json(declared: Declarations) -> dict[str, Any]:
    return {
        "declared_prior_loan": declared.declared_prior_loan,
        "earlier_loan_on_platform": declared.earlier_loan_on_platform,
        "first_loan": declared.first_loan,
        "is_renewal": declared.is_renewal,
        "renewal_institution_code": declared.renewal_institution_code,
        "renewal_current_amount": declared.renewal_current_amount,
        "renewal_matures_on": declared.renewal_matures_on,
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
        "events": [lead_event_json(event) for event in lead.events],
        "declarations": _declarations_json(lead.declarations) if lead.declarations else None,
    }


def lead_page_json(page: LeadPage) -> dict[str, Any]:
    """A page of leads as the API shows it (LeadPage)."""
    return page_body([lead_json(lead) for lead in page.items], page.total, page.page, page.per_page)


def inbox_context(page: LeadPage, query: dict[str, Any]) -> dict[str, Any]:
    """The inbox page's template context: the page's leads (LeadView) and its pager, which keeps the
    filters (`query`, the filter form's non-empty values)."""
    return {
        "leads": page.items,
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "query": query,
    }


# --- an applicant's needs and consents ---------------------------------------------------------


def event_dict(event: StatusEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "status": event.to_status,
        "note": describe_event(event),
        "entity": event.entity_type,
    }


def need_dict(view: NeedView, *, detail: bool = True) -> dict[str, Any]:
    need = view.need
    leads = [
        {
            "id": lead.id,
            "institution": {"code": lead.institution_code, "name": lead.institution_name},
            "product": {"id": lead.product_id, "name": lead.product_name},
            "status": lead.status,
            "pushed_at": lead.pushed_at,
            "claimed_at": lead.claimed_at,
            "sla_due_at": lead.sla_due_at,
            "explanation": lead.explanation,
            "officer": {"name": lead.officer_name, "phone": lead.officer_phone}
            if lead.officer_name is not None
            else None,
        }
        for lead in view.leads
    ]
    loan = view.loan
    summary = need.match_summary or {}
    return {
        "id": need.id,
        "status": need.status,
        "amount": need.amount,
        "term_months": need.term_months,
        "purpose": need.purpose,
        "collateral": need.collateral,
        "declared_prior_loan": need.declared_prior_loan,
        "renewal": {
            "institution_code": need.renewal_institution_code,
            "current_amount": need.renewal_current_amount,
            "matures_on": need.renewal_matures_on,
        }
        if need.is_renewal
        else None,
        "submitted_at": need.submitted_at,
        "dispatch_round": need.dispatch_round,
        "open_to_all": need.open_to_all,
        "outcome": view.outcome,
        "leads": leads,
        "events": [event_dict(e) for e in view.events] if detail else [],
        "unmatched_reasons": summary.get("exclusions", []) if detail else [],
        "requested_product_id": need.requested_product_id,
        "loan": {
            "amount": loan.amount,
            "rate": loan.rate,
            "term_months": loan.term_months,
            "disbursed_on": loan.disbursed_on,
            "matures_on": loan.matures_on,
            "institution": {"code": loan.institution_code, "name": loan.institution_name},
        }
        if loan is not None
        else None,
    }


def use_dict(use: UseView) -> dict[str, Any]:
    return {
        "id": use.id,
        "at": use.at,
        "action": use.action,
        "source": use.source,
        "allowed": use.allowed,
        "institution": use.institution_name,
        "detail": use.detail,
        "count": use.count,
        "first_at": use.first_at,
    }


def recipient_dict(recipient: ConsentRecipient) -> dict[str, Any]:
    return {
        "institution": {"code": recipient.institution_code, "name": recipient.institution_name},
        "pushed_at": recipient.first_pushed_at,
        "claimed_at": recipient.claimed_at,
        "identified": recipient.claimed_at is not None,
        "reads": recipient.reads,
    }


def consent_dict(
    consent: Consent,
    uses: Sequence[UseView],
    recipients: list[ConsentRecipient] | None = None,
    deletions: Sequence[DataPurge] = (),
) -> dict[str, Any]:
    period = None
    if consent.period_from or consent.period_to:
        period = {"from_": consent.period_from, "to": consent.period_to}
    return {
        "id": consent.id,
        "status": effective_status(consent),
        "sources": consent.sources,
        "purpose": consent.purpose,
        "purpose_code": consent.purpose_code,
        "data_life_months": consent.data_life_months,
        "fetch_frequency": consent.fetch_frequency,
        "recipient_ids": list(consent.recipient_ids or []),
        "paused_at": consent.paused_at,
        "replaces_id": consent.replaces_id,
        "artefact_hash": consent.artefact_hash,
        "granted_at": consent.granted_at,
        "expires_on": consent.expires_on,
        "revoked_at": consent.revoked_at,
        "text_version": consent.text_version,
        "text_hash": consent.text_hash,
        "period": period,
        "recipients": [recipient_dict(r) for r in recipients or []],
        "deletions": [
            {
                "at": d.at,
                "source": d.source,
                "records": d.records,
                "first_period": d.first_period,
                "last_period": d.last_period,
            }
            for d in deletions
            if consent.id in d.consent_ids
        ],
        "uses": [use_dict(u) for u in uses if u.consent_id == consent.id],
    }


def near_product_dict(near: NearProduct) -> dict[str, Any]:
    """A product the applicant's unmatched need nearly fits, with the changes that make it fit and the
    edit page's arguments for them (the amount in 万元, as the form takes it)."""
    edit: dict[str, str] = {}
    for change in near.changes:
        if change.field == "amount" and isinstance(change.value, Decimal):
            edit["amount"] = f"{(change.value / 10000).normalize():f}"
        elif change.field == "term_months":
            edit["term_months"] = str(change.value)
    return {
        "product_id": near.product_id,
        "product": near.product_name,
        "institution": near.institution_name,
        "rate_min": near.rate_min,
        "changes": [{"field": c.field, "value": c.value} for c in near.changes],
        "edit_args": edit,
    }


# --- the applicant's credit page: one story with matching (credit_profile.scoring.has_data) ----------

SOURCE_MISSING_REASON = "_data_missing"
MIN_MONTHS = 6


def credit_reasons(score: CreditScore) -> list[dict[str, Any]]:
    """The score's reasons, with each "authorise this data" reason replaced by where that source stands:
    not authorised, authorised but nothing sent by its provider yet, or fewer than six months so far.
    `text` is a msgid with `params` (the page translates it)."""
    reasons: list[dict[str, Any]] = []
    for reason in score.reasons:
        code = str(reason.get("code", ""))
        if not code.endswith(SOURCE_MISSING_REASON):
            reasons.append({**reason, "params": {}})
            continue
        source = code.removesuffix(SOURCE_MISSING_REASON)
        cov = (score.sources or {}).get(source) or {}
        months = int(cov.get("months") or 0)
        if not cov.get("consented"):
            text, code = N_("尚未授权%(source)s，授权后可获得更准确的评分"), "not_consented"
        elif months == 0:
            text, code = (
                N_("已授权%(source)s，数据提供方尚未报送，数据到达后评分会自动更新"),
                "awaiting_provider",
            )
        elif months < MIN_MONTHS:
            text, code = N_("%(source)s目前仅有 %(months)s 个月，满 6 个月后评分更准确"), "too_few_months"
        else:
            reasons.append({**reason, "params": {}})
            continue
        reasons.append({"code": code, "text": text, "impact": reason.get("impact"),
                        "params": {"source": source, "months": months}})  # fmt: skip
    return reasons
