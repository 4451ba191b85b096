"""Leads: an officer's inbox, claiming, declining, handing over, notes, moving a lead through its statuses.

State changes that race (claiming a lead, closing a need) are conditional UPDATEs whose row count
decides the winner; nothing here reads a status and then writes it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.accounts import find_user
from core.errors import InvalidInputError, PermissionDeniedError
from core.models import Role, StatusEvent, User
from core.reference import REASON_CODES
from core.types import local_today, money, utcnow
from credit_profile.models import CreditScore
from credit_profile.scoring import institution_profile
from matching.dispatch import DispatchPolicy
from matching.errors import (
    AlreadyClaimedError,
    IllegalTransitionError,
    LeadNotFoundError,
    LoanNotDisbursedError,
    NotClaimantError,
)
from matching.inbox import inbox_order
from matching.loans import LoanInput, check_loan, loan_for_lead
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
    lead_event,
    lock_need,
    set_lead_status,
    set_need_status,
    settle_need_if_exhausted,
)
from matching.sweeps import redispatch_if_exhausted

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
    """The institution's leads in the inbox's order (matching.inbox.inbox_order), and their total count."""
    stmt = select(Lead).where(Lead.institution_id == institution_id)
    if status:
        stmt = stmt.where(Lead.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(*inbox_order()).limit(limit).offset(offset)).all()
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


# What other packages do in the same transaction when a loan is recorded (the portal installs them:
# guarantees activates an approved cover on the lead; matching may not import guarantees).
DisbursementFollower = Callable[[Session, Loan], object]
_disbursement_followers: list[DisbursementFollower] = []


def register_disbursement_follower(follower: DisbursementFollower) -> None:
    """Install the function called with each newly recorded loan (replaces any earlier)."""
    _disbursement_followers[:] = [follower]


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
    confirm_outlier: bool = False,
) -> Lead:
    """Move a claimed lead on: claimed → contacted → approved → disbursed, or rejected with a reason.

    Disbursing checks the loan's plausibility (matching.loans.plausibility_codes; ``confirm_outlier``
    confirms an outlying amount or a renewal flag on a need that is not a renewal), records the loan,
    closes the need's other leads and marks the need disbursed; a rejection that leaves the need
    without open leads marks it rejected. Raises LeadNotFoundError, NotClaimantError,
    IllegalTransitionError, InvalidInputError.
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
        check_loan(session, loan, lead=lead, need=need, confirm_outlier=confirm_outlier)
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
        for follower in _disbursement_followers:
            follower(session, loan_row)
    elif to == LeadStatus.REJECTED:
        settle_need_if_exhausted(session, need, actor_id=officer_id)
    return lead


IN_HAND = frozenset({LeadStatus.CLAIMED, LeadStatus.CONTACTED, LeadStatus.APPROVED})
NOTE_MAX = 500


def decline_lead(
    session: Session,
    lead_id: int,
    *,
    officer_id: int,
    institution_id: int,
    reason_code: str,
    note: str | None = None,
    policy: DispatchPolicy,
) -> Lead:
    """Turn down a pushed lead without claiming it (any officer of the institution), with a reason
    from the published list. When the need has no other open lead it goes on to its next dispatch
    round, as after an expiry, so other institutions get it.

    Raises LeadNotFoundError, IllegalTransitionError (the lead is no longer pushed), InvalidInputError.
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if reason_code not in REASON_CODES:
        raise InvalidInputError({"reason_code": ["required" if not reason_code else "invalid_choice"]})
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise InvalidInputError({"note": ["too_long"]})
    need = lock_need(session, lead.need_id)
    assert need is not None
    values: dict[str, Any] = {"reason_code": reason_code}
    if note:
        values["note"] = note
    if not set_lead_status(
        session,
        lead,
        LeadStatus.DECLINED,
        allowed_from=frozenset({LeadStatus.PUSHED}),
        actor_id=officer_id,
        values=values,
        note=note,
        data={"reason_code": reason_code},
    ):
        raise IllegalTransitionError(f"{lead.status}->declined")
    redispatch_if_exhausted(session, need, policy=policy, reason="declined")
    return lead


def assign_lead(
    session: Session, lead_id: int, *, officer_id: int, institution_id: int, username: str
) -> Lead:
    """Hand a lead in hand over to a colleague: an active officer of the same institution. Only the
    claiming officer may; the hand-over is recorded on the lead.

    Raises LeadNotFoundError, NotClaimantError, IllegalTransitionError (the lead is not in hand),
    InvalidInputError (``username`` is not an active colleague, or the officer themselves).
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if lead.claimed_by != officer_id:
        raise NotClaimantError(str(lead_id))
    # Named as sign-in reads a typed name (core.accounts.find_user: NFKC, casefold, invisible characters
    # and surrounding spaces dropped), so "Officer2" or a full-width spelling finds officer2.
    colleague = find_user(session, username)
    if (
        colleague is None
        or colleague.institution_id != institution_id
        or colleague.role != Role.OFFICER.value
        or not colleague.active
    ):
        raise InvalidInputError({"username": ["unknown_colleague"]})
    if colleague.id == officer_id:
        raise InvalidInputError({"username": ["self"]})
    won = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.claimed_by == officer_id, Lead.status.in_(list(IN_HAND)))
        .values(claimed_by=colleague.id)
        .returning(Lead.claimed_by)
        .execution_options(synchronize_session=False)
    ).first()
    if won is None:
        raise IllegalTransitionError(f"{lead.status}->assigned")
    me = session.get(User, officer_id)
    set_committed_value(lead, "claimed_by", colleague.id)
    data = {"kind": "assigned", "from": me.username if me else None, "to": colleague.username}
    lead_event(session, lead, data, actor_id=officer_id)
    return lead


def colleagues(session: Session, *, institution_id: int, officer_id: int) -> list[str]:
    """The usernames a lead may be handed over to: the institution's other active officers."""
    return list(
        session.scalars(
            select(User.username)
            .where(
                User.institution_id == institution_id,
                User.role == Role.OFFICER.value,
                User.active.is_(True),
                User.id != officer_id,
            )
            .order_by(User.username)
        )
    )


def add_note(
    session: Session, lead_id: int, *, officer_id: int, institution_id: int, text: str
) -> StatusEvent:
    """Append the claiming officer's note to the lead's history. Notes are the institution's own: they
    are not part of the applicant's timeline.

    Raises LeadNotFoundError, NotClaimantError, InvalidInputError (empty or longer than NOTE_MAX).
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    if lead.claimed_by != officer_id:
        raise NotClaimantError(str(lead_id))
    text = text.strip()
    if not text:
        raise InvalidInputError({"text": ["required"]})
    if len(text) > NOTE_MAX:
        raise InvalidInputError({"text": ["too_long"]})
    return lead_event(session, lead, {"kind": "note"}, actor_id=officer_id, note=text)


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
