"""Covers on loans: a bank officer requests one for an approved lead, the scheme's operator (guarantor)
decides on its own queue within an SLA, the cover becomes active when the loan is disbursed, is filed
(备案) singly or in batches before its deadline, and is released on repayment. Every step is a status
event in the audit trail (entity `guarantee_cover`).

Defaults, compensation payments and recoveries are in `guarantees.defaults`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.calendars import working_calendar
from core.errors import InvalidInputError, NotFoundError
from core.sql import add_months_py
from core.types import local_today, utcnow
from credit_profile.models import Borrower
from guarantees.errors import SchemePausedError, StateError
from guarantees.history import record_step
from guarantees.models import Cover, CoverStatus, Scheme, SchemeKind, SchemeStatus
from guarantees.schemes import eligibility_errors
from matching.models import Lead, LeadStatus, Loan
from matching.workhours import add_working_hours
from products.models import Product

COVER_ENTITY = "guarantee_cover"
COVERABLE_LEADS = frozenset({LeadStatus.APPROVED, LeadStatus.DISBURSED})
MAX_BATCH = 500


def _event(
    session: Session,
    cover: Cover,
    before: str | None,
    *,
    actor_id: int | None,
    note: str | None = None,
    **data: str,
) -> None:
    record_step(session, COVER_ENTITY, cover, before, actor_id=actor_id, note=note, **data)


def request_cover(
    session: Session,
    lead_id: int,
    scheme_id: int,
    *,
    officer_id: int,
    institution_id: int,
    fee_rate: Decimal,
) -> Cover:
    """A bank officer asks the scheme's operator to cover an approved (or disbursed) lead of their bank.

    Raises NotFoundError (another bank's lead, unknown scheme), StateError (lead not approved, already
    covered or asked), SchemePausedError, InvalidInputError (`scheme` not eligible with the reasons,
    `fee_rate` above the scheme's cap).
    """
    lead = session.get(Lead, lead_id)
    if lead is None or lead.institution_id != institution_id:
        raise NotFoundError("lead")
    scheme = session.get(Scheme, scheme_id)
    if scheme is None or scheme.kind == SchemeKind.BRIDGE_FUND:
        raise InvalidInputError({"scheme_id": ["not_found"]})
    if lead.status not in COVERABLE_LEADS:
        raise StateError("lead not approved")
    if session.scalar(select(Cover.id).where(Cover.lead_id == lead.id)) is not None:
        raise StateError("already requested")
    if scheme.status != SchemeStatus.ACTIVE:
        raise SchemePausedError(scheme.paused_reason or "")
    if not Decimal(0) <= fee_rate <= scheme.fee_rate_cap:
        raise InvalidInputError({"fee_rate": ["above_cap"]})
    loan = session.scalar(select(Loan).where(Loan.lead_id == lead.id))
    amount = loan.amount if loan else lead.need.amount
    term = loan.term_months if loan else lead.need.term_months
    borrower = session.get(Borrower, lead.borrower_id)
    product = session.get(Product, lead.product_id)
    assert borrower is not None and product is not None
    reasons = eligibility_errors(scheme, borrower, amount=amount, product_tags=product.tags)
    if reasons:
        raise InvalidInputError({"scheme_id": reasons})
    now = utcnow()
    cover = Cover(
        scheme_id=scheme.id,
        operator_id=scheme.operator_id,
        lead_id=lead.id,
        institution_id=institution_id,
        borrower_id=lead.borrower_id,
        region_code=borrower.region_code,
        amount=amount,
        term_months=term,
        fee_rate=fee_rate,
        status=CoverStatus.REQUESTED,
        requested_by=officer_id,
        requested_at=now,
        decision_due_at=add_working_hours(now, scheme.decision_sla_hours, calendar=working_calendar(session)),
    )
    session.add(cover)
    session.flush()
    _event(session, cover, None, actor_id=officer_id, scheme=scheme.code)
    return cover


def operator_cover(session: Session, cover_id: int, *, operator_id: int) -> Cover:
    """A cover on the operator's own queue. Raises NotFoundError for any other."""
    cover = session.get(Cover, cover_id)
    if cover is None or cover.operator_id != operator_id:
        raise NotFoundError("cover")
    return cover


def bank_cover(session: Session, cover_id: int, *, institution_id: int) -> Cover:
    """A cover on one of the bank's loans. Raises NotFoundError for any other."""
    cover = session.get(Cover, cover_id)
    if cover is None or cover.institution_id != institution_id:
        raise NotFoundError("cover")
    return cover


def _activate(session: Session, cover: Cover, loan: Loan, *, actor_id: int | None) -> None:
    scheme = session.get(Scheme, cover.scheme_id)
    assert scheme is not None
    before = cover.status
    cover.status = CoverStatus.ACTIVE
    cover.loan_id = loan.id
    cover.amount = loan.amount
    cover.term_months = loan.term_months
    cover.activated_on = loan.disbursed_on
    cover.matures_on = add_months_py(loan.disbursed_on, loan.term_months)
    cover.filing_due_on = loan.disbursed_on + dt.timedelta(days=scheme.filing_deadline_days)
    _event(session, cover, before, actor_id=actor_id, loan=str(loan.id))


def decide_cover(
    session: Session, cover_id: int, *, approve: bool, reason: str | None, user_id: int, operator_id: int
) -> Cover:
    """The operator approves or refuses a requested cover (a refusal needs a reason). An approved cover
    on a loan already disbursed becomes active at once.

    Raises NotFoundError, StateError (already decided), InvalidInputError(reason=['required']).
    """
    cover = operator_cover(session, cover_id, operator_id=operator_id)
    if cover.status != CoverStatus.REQUESTED:
        raise StateError(cover.status)
    reason = (reason or "").strip() or None
    if not approve and reason is None:
        raise InvalidInputError({"reason": ["required"]})
    cover.status = CoverStatus.APPROVED if approve else CoverStatus.REFUSED
    cover.decided_by, cover.decided_at, cover.reason = user_id, utcnow(), reason
    _event(session, cover, CoverStatus.REQUESTED, actor_id=user_id, note=reason)
    if approve:
        loan = session.scalar(select(Loan).where(Loan.lead_id == cover.lead_id))
        if loan is not None:
            _activate(session, cover, loan, actor_id=user_id)
    return cover


def activate_cover_of_loan(session: Session, loan: Loan) -> bool:
    """An approved cover on the loan's lead becomes active as the loan is recorded (matching calls this
    through its disbursement follower, in the same transaction); returns whether one did."""
    cover = session.scalar(
        select(Cover).where(Cover.lead_id == loan.lead_id, Cover.status == CoverStatus.APPROVED)
    )
    if cover is None:
        return False
    _activate(session, cover, loan, actor_id=loan.recorded_by)
    return True


def activate_disbursed_covers(session: Session) -> int:
    """Make every approved cover whose loan has since been disbursed active: the safety net behind
    `activate_cover_of_loan`, for loans recorded where the portal had not installed it. Idempotent;
    returns how many."""
    rows = session.execute(
        select(Cover, Loan)
        .join(Loan, Loan.lead_id == Cover.lead_id)
        .where(Cover.status == CoverStatus.APPROVED)
        .order_by(Cover.id)
    ).all()
    for cover, loan in rows:
        _activate(session, cover, loan, actor_id=None)
    return len(rows)


def file_covers(
    session: Session,
    cover_ids: Sequence[int],
    *,
    operator_id: int,
    user_id: int,
    filed_on: dt.date | None = None,
) -> str:
    """File (备案) active covers in one batch; returns the batch code. All or none: a cover that is not
    the operator's, not active, already filed, or past its filing deadline refuses the whole batch.

    Raises InvalidInputError(cover_ids=[...]) naming why.
    """
    filed_on = filed_on or local_today()
    ids = list(dict.fromkeys(cover_ids))
    if not ids or len(ids) > MAX_BATCH:
        raise InvalidInputError({"cover_ids": ["required" if not ids else "too_many"]})
    covers = list(
        session.scalars(
            select(Cover).where(Cover.id.in_(ids), Cover.operator_id == operator_id).with_for_update()
        )
    )
    errors: list[str] = []
    if len(covers) != len(ids):
        errors.append("not_found")
    if any(c.status != CoverStatus.ACTIVE or c.filed_on is not None for c in covers):
        errors.append("not_fileable")
    if any(c.filing_due_on is not None and filed_on > c.filing_due_on for c in covers):
        errors.append("filing_overdue")
    if errors:
        raise InvalidInputError({"cover_ids": errors})
    batch = f"BA{filed_on:%Y%m%d}{secrets.token_hex(3).upper()}"
    for cover in covers:
        cover.filed_on, cover.filing_batch = filed_on, batch
        _event(session, cover, cover.status, actor_id=user_id, batch=batch)
    return batch


def release_cover(
    session: Session, cover_id: int, *, institution_id: int, user_id: int, repaid_on: dt.date
) -> Cover:
    """The bank reports the covered loan repaid: the cover is released. Raises NotFoundError,
    StateError (not active), InvalidInputError(repaid_on=['before_disbursement'|'in_future'])."""
    cover = bank_cover(session, cover_id, institution_id=institution_id)
    if cover.status != CoverStatus.ACTIVE:
        raise StateError(cover.status)
    assert cover.activated_on is not None
    if repaid_on < cover.activated_on:
        raise InvalidInputError({"repaid_on": ["before_disbursement"]})
    if repaid_on > local_today():
        raise InvalidInputError({"repaid_on": ["in_future"]})
    cover.status, cover.released_on = CoverStatus.RELEASED, repaid_on
    _event(session, cover, CoverStatus.ACTIVE, actor_id=user_id)
    return cover


def queue_counts(session: Session, operator_id: int) -> dict[str, int]:
    """How many of the operator's covers are in each status."""
    rows = session.execute(
        select(Cover.status, func.count()).where(Cover.operator_id == operator_id).group_by(Cover.status)
    )
    return {status: int(n) for status, n in rows}
