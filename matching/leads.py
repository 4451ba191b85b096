"""Leads: an officer's inbox, claiming, moving a lead through its statuses, and what an institution may see.

State changes that race (claiming a lead, closing a need) are conditional UPDATEs whose row count
decides the winner; nothing here reads a status and then writes it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, PermissionDeniedError
from core.reference import REASON_CODES
from core.types import SHANGHAI, local_today, money, utcnow
from credit_profile.models import CreditScore
from credit_profile.scoring import institution_profile
from matching.errors import (
    AlreadyClaimedError,
    IllegalTransitionError,
    LeadNotFoundError,
    LoanNotDisbursedError,
    NotClaimantError,
)
from matching.loans import LoanInput, loan_for_lead, validate_loan
from matching.models import (
    Lead,
    LeadStatus,
    Loan,
    LoanPerformance,
    Need,
    NeedStatus,
)
from matching.states import (
    close_other_leads,
    lock_need,
    set_lead_status,
    set_need_status,
    settle_need_if_exhausted,
)

# Who may move a claimed lead where; anything else is an illegal transition (409).
LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    LeadStatus.CLAIMED: frozenset({LeadStatus.CONTACTED, LeadStatus.REJECTED}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.APPROVED, LeadStatus.REJECTED}),
    LeadStatus.APPROVED: frozenset({LeadStatus.DISBURSED, LeadStatus.REJECTED}),
}


def get_lead(session: Session, lead_id: int, *, institution_id: int) -> Lead:
    """A lead pushed to this institution. Raises LeadNotFoundError (also for another bank's lead)."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.institution_id != institution_id:
        raise LeadNotFoundError(str(lead_id))
    return lead


def lead_credit_profile(
    session: Session, lead_id: int, *, officer_id: int, institution_id: int
) -> tuple[Lead, CreditScore]:
    """The lead and its borrower's credit profile, for the officer who claimed it (as the borrower's
    identity is), recorded as a use of the consent.

    Raises LeadNotFoundError (another institution's lead), PermissionDeniedError (not claimed, or
    claimed by a colleague), ConsentRequiredError (no active consent; the refused read is recorded).
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if lead.claimed_by != officer_id:
        raise PermissionDeniedError("only the officer who claimed the lead")
    need = session.get(Need, lead.need_id)
    assert need is not None
    score = institution_profile(session, need.borrower_id, actor_id=officer_id, institution_id=institution_id)
    return lead, score


def list_leads(
    session: Session, *, institution_id: int, status: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[Sequence[Lead], int]:
    """The institution's leads, newest first, and their total count."""
    stmt = select(Lead).where(Lead.institution_id == institution_id)
    if status:
        stmt = stmt.where(Lead.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Lead.pushed_at.desc(), Lead.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def claim_lead(session: Session, lead_id: int, *, officer_id: int, institution_id: int) -> Lead:
    """Claim a pushed lead for this officer. Exactly one concurrent claim wins.

    Raises LeadNotFoundError (unknown or another institution's) or AlreadyClaimedError.
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    need = lock_need(session, lead.need_id)
    assert need is not None
    now = utcnow()
    won = set_lead_status(
        session,
        lead,
        LeadStatus.CLAIMED,
        allowed_from=frozenset({LeadStatus.PUSHED}),
        actor_id=officer_id,
        values={"claimed_by": officer_id, "claimed_at": now},
    )
    if not won:
        raise AlreadyClaimedError(lead.status, claimed_by=lead.claimed_by)
    set_need_status(
        session,
        need,
        NeedStatus.IN_PROGRESS,
        allowed_from=frozenset({NeedStatus.MATCHED}),
        actor_id=officer_id,
    )
    return lead


def _decision_data(to: str, reason_code: str | None, loan: LoanInput | None) -> dict[str, Any] | None:
    """What the lead's status event carries onto the audit chain: the reason of a rejection, the
    figures of a disbursed loan (later corrections record theirs the same way)."""
    if to == LeadStatus.REJECTED and reason_code:
        return {"reason_code": reason_code}
    if to == LeadStatus.DISBURSED and loan is not None:
        return {"loan": loan_figures(loan)}
    return None


def loan_figures(loan: LoanInput) -> dict[str, Any]:
    """A loan's figures as plain JSON values, for the audit chain."""
    return {
        "amount": str(loan.amount),
        "rate": str(loan.rate),
        "term_months": loan.term_months,
        "collateral": loan.collateral,
        "disbursed_on": loan.disbursed_on.isoformat(),
        "first_loan_borrower": loan.first_loan_borrower,
        "renewal_without_repayment": loan.renewal_without_repayment,
    }


def transition_lead(
    session: Session,
    lead_id: int,
    *,
    to: str,
    officer_id: int,
    institution_id: int,
    reason_code: str | None = None,
    note: str | None = None,
    loan: LoanInput | None = None,
) -> Lead:
    """Move a claimed lead on: claimed → contacted → approved → disbursed, or rejected with a reason.

    Disbursing records the loan, closes the need's other leads and marks the need disbursed; a
    rejection that leaves the need without open leads marks it rejected. Raises LeadNotFoundError,
    NotClaimantError, IllegalTransitionError, InvalidInputError.
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if lead.claimed_by is not None and lead.claimed_by != officer_id:
        raise NotClaimantError(str(lead_id))
    allowed = LEAD_TRANSITIONS.get(lead.status, frozenset())
    if to not in allowed:
        raise IllegalTransitionError(f"{lead.status}->{to}")
    note = (note or "").strip() or None
    if to == LeadStatus.REJECTED and reason_code not in REASON_CODES:
        raise InvalidInputError({"reason_code": ["required" if not reason_code else "invalid_choice"]})
    need = lock_need(session, lead.need_id)
    assert need is not None
    loan_row: Loan | None = None
    if to == LeadStatus.DISBURSED:
        if loan is None:
            raise InvalidInputError({"loan": ["required"]})
        errors = validate_loan(loan, pushed_on=lead.pushed_at.astimezone(SHANGHAI).date())
        if errors:
            raise InvalidInputError(errors)
    values: dict[str, Any] = {"note": note} if note else {}
    if to == LeadStatus.REJECTED:
        values["reason_code"] = reason_code
    if not set_lead_status(
        session,
        lead,
        LeadStatus(to),
        allowed_from=frozenset({lead.status}),
        actor_id=officer_id,
        values=values,
        note=note,
        data=_decision_data(to, reason_code, loan),
    ):
        raise IllegalTransitionError(f"{lead.status}->{to}")
    if to == LeadStatus.DISBURSED:
        assert loan is not None
        if not set_need_status(
            session,
            need,
            NeedStatus.DISBURSED,
            allowed_from=frozenset({NeedStatus.IN_PROGRESS, NeedStatus.MATCHED}),
            actor_id=officer_id,
        ):
            raise IllegalTransitionError(f"need {need.status}->disbursed")
        loan_row = Loan(
            lead_id=lead.id,
            need_id=need.id,
            borrower_id=need.borrower_id,
            institution_id=lead.institution_id,
            product_id=lead.product_id,
            amount=money(loan.amount),
            rate=money(loan.rate),
            term_months=loan.term_months,
            collateral=loan.collateral,
            disbursed_on=loan.disbursed_on,
            first_loan_borrower=loan.first_loan_borrower,
            renewal_without_repayment=loan.renewal_without_repayment,
            recorded_by=officer_id,
            note=note,
        )
        session.add(loan_row)
        session.flush()
        close_other_leads(session, need, keep_lead_id=lead.id, actor_id=officer_id)
    elif to == LeadStatus.REJECTED:
        settle_need_if_exhausted(session, need, actor_id=officer_id)
    return lead


def report_performance(
    session: Session,
    lead_id: int,
    *,
    officer_id: int,
    institution_id: int,
    as_of: dt.date,
    overdue_30: bool,
    overdue_90: bool,
) -> LoanPerformance:
    """Record whether the lead's loan has ever been 30 or 90 days past due by ``as_of``.

    Any officer of the lead's institution may report. Reports are appended: a later one for the same
    ``as_of`` corrects an earlier one. Raises LeadNotFoundError (unknown or another institution's),
    LoanNotDisbursedError (the lead has no disbursed loan), InvalidInputError (``as_of`` in the future
    or before disbursement; ``overdue_90`` without ``overdue_30``).
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    loan = loan_for_lead(session, lead.id)
    if lead.status != LeadStatus.DISBURSED or loan is None:
        raise LoanNotDisbursedError(lead.status)
    errors: dict[str, list[str]] = {}
    if as_of > local_today():
        errors["as_of"] = ["in_future"]
    elif as_of < loan.disbursed_on:
        errors["as_of"] = ["before_disbursement"]
    if overdue_90 and not overdue_30:
        # 90 days past due has necessarily been 30 days past due first.
        errors["overdue_30"] = ["implied_by_overdue_90"]
    if errors:
        raise InvalidInputError(errors)
    report = LoanPerformance(
        loan_id=loan.id,
        reported_at=utcnow(),
        as_of=as_of,
        overdue_30=overdue_30,
        overdue_90=overdue_90,
        reported_by=officer_id,
    )
    session.add(report)
    session.flush()
    return report
