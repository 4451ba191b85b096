"""Needs, matching, leads and loans: the matching package's public API. Services flush, never commit.

State changes that race (claiming a lead, closing a need) are conditional UPDATEs whose row count
decides the winner; nothing here reads a status and then writes it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import Role, StatusEvent, User
from core.reference import COLLATERAL_KINDS, REASON_CODES
from core.services import add_job, record_event
from core.types import SHANGHAI, money, utcnow
from credit_profile.models import Borrower
from credit_profile.services import latest_score
from matching import engine
from matching.errors import (
    AlreadyClaimedError,
    IllegalTransitionError,
    LeadNotFoundError,
    NeedNotFoundError,
    NeedStateError,
    NotClaimantError,
)
from matching.models import (
    FINAL_NEED_STATUSES,
    OPEN_LEAD_STATUSES,
    Lead,
    LeadStatus,
    Loan,
    Need,
    NeedStatus,
)
from matching.sqlfuncs import duration_us, grouped_medians
from matching.workhours import add_working_hours
from products.models import Institution, Product, ProductStatus

MAX_NEED_AMOUNT = Decimal("100000000.00")
MAX_TERM_MONTHS = 360
MAX_RATE = Decimal("36.00")
MATCH_JOB = "match_need"
MICROSECONDS_PER_HOUR = 3_600_000_000

# Who may move a claimed lead where; anything else is an illegal transition (409).
LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    LeadStatus.CLAIMED: frozenset({LeadStatus.CONTACTED, LeadStatus.REJECTED}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.APPROVED, LeadStatus.REJECTED}),
    LeadStatus.APPROVED: frozenset({LeadStatus.DISBURSED, LeadStatus.REJECTED}),
}
WITHDRAWABLE = frozenset(
    {NeedStatus.SUBMITTED, NeedStatus.MATCHED, NeedStatus.UNMATCHED, NeedStatus.IN_PROGRESS}
)


def local_today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


# --- needs -----------------------------------------------------------------------------------


@dataclass
class RenewalInput:
    current_amount: Decimal
    matures_on: dt.date
    institution_code: str | None = None


@dataclass
class NeedInput:
    amount: Decimal
    term_months: int
    purpose: str
    collateral: str
    declared_prior_loan: bool
    renewal: RenewalInput | None = None


def validate_need(session: Session, data: NeedInput) -> dict[str, list[str]]:
    """Field -> error codes for a financing need."""
    errors: dict[str, list[str]] = {}
    if not Decimal("1000") <= data.amount <= MAX_NEED_AMOUNT:
        errors["amount"] = ["out_of_range"]
    elif data.amount != data.amount.quantize(Decimal("0.01")):
        errors["amount"] = ["too_many_decimals"]
    if not 1 <= data.term_months <= MAX_TERM_MONTHS:
        errors["term_months"] = ["out_of_range"]
    if not data.purpose.strip():
        errors["purpose"] = ["required"]
    if data.collateral not in COLLATERAL_KINDS:
        errors["collateral"] = ["invalid_choice"]
    if data.renewal is not None:
        renewal = data.renewal
        if not Decimal("0") < renewal.current_amount <= MAX_NEED_AMOUNT:
            errors["renewal.current_amount"] = ["out_of_range"]
        today = local_today()
        if not today <= renewal.matures_on <= today + dt.timedelta(days=366):
            errors["renewal.matures_on"] = ["out_of_range"]
        if (
            renewal.institution_code
            and session.scalar(select(Institution.id).where(Institution.code == renewal.institution_code))
            is None
        ):
            errors["renewal.institution_code"] = ["unknown"]
    return errors


def submit_need(session: Session, *, borrower_id: int, data: NeedInput, actor_id: int | None) -> Need:
    """Record a financing need and queue its matching (outbox). Raises InvalidInputError."""
    errors = validate_need(session, data)
    if errors:
        raise InvalidInputError(errors)
    need = Need(
        borrower_id=borrower_id,
        created_by=actor_id,
        amount=money(data.amount),
        term_months=data.term_months,
        purpose=data.purpose.strip(),
        collateral=data.collateral,
        declared_prior_loan=data.declared_prior_loan,
        status=NeedStatus.SUBMITTED,
        submitted_at=utcnow(),
        updated_at=utcnow(),
    )
    if data.renewal is not None:
        need.is_renewal = True
        need.renewal_current_amount = money(data.renewal.current_amount)
        need.renewal_matures_on = data.renewal.matures_on
        need.renewal_institution_code = data.renewal.institution_code or None
    session.add(need)
    session.flush()
    record_event(
        session,
        entity_type="need",
        entity_id=need.id,
        need_id=need.id,
        to_status=NeedStatus.SUBMITTED,
        actor_id=actor_id,
    )
    enqueue_matching(session, need)
    return need


def enqueue_matching(session: Session, need: Need) -> None:
    """Queue one matching round for the need; the key makes a second request for the same round a no-op."""
    add_job(session, MATCH_JOB, f"{MATCH_JOB}:{need.id}:{need.dispatch_round + 1}", need_id=need.id)


def get_need(session: Session, need_id: int, *, borrower_id: int | None = None) -> Need:
    """The need; with borrower_id, only that borrower's. Raises NeedNotFoundError."""
    need = session.get(Need, need_id)
    if need is None or (borrower_id is not None and need.borrower_id != borrower_id):
        raise NeedNotFoundError(str(need_id))
    return need


def list_needs(session: Session, *, borrower_id: int) -> Sequence[Need]:
    return session.scalars(select(Need).where(Need.borrower_id == borrower_id).order_by(Need.id.desc())).all()


def need_events(session: Session, need_id: int) -> Sequence[StatusEvent]:
    """The need's timeline: its own status changes and those of its leads, oldest first."""
    return session.scalars(
        select(StatusEvent).where(StatusEvent.need_id == need_id).order_by(StatusEvent.at, StatusEvent.id)
    ).all()


def _set_need_status(
    session: Session,
    need: Need,
    to: NeedStatus,
    *,
    allowed_from: frozenset[str],
    actor_id: int | None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Conditionally move the need; False (and no event) if another transaction moved it first."""
    previous = need.status
    result = session.execute(
        update(Need)
        .where(Need.id == need.id, Need.status.in_(list(allowed_from)))
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(need)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    record_event(
        session,
        entity_type="need",
        entity_id=need.id,
        need_id=need.id,
        from_status=previous,
        to_status=to,
        actor_id=actor_id,
        note=note,
        data=data,
    )
    return True


def _close_other_leads(
    session: Session, need: Need, *, keep_lead_id: int | None, actor_id: int | None
) -> None:
    leads = session.scalars(
        select(Lead).where(
            Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)), Lead.id != (keep_lead_id or 0)
        )
    ).all()
    for lead in leads:
        _set_lead_status(session, lead, LeadStatus.CLOSED, allowed_from=OPEN_LEAD_STATUSES, actor_id=actor_id)


def withdraw_need(session: Session, need: Need, *, actor_id: int | None) -> Need:
    """Withdraw the need and close its open leads. Raises NeedStateError once it is final."""
    if not _set_need_status(
        session, need, NeedStatus.WITHDRAWN, allowed_from=WITHDRAWABLE, actor_id=actor_id
    ):
        raise NeedStateError(need.status)
    _close_other_leads(session, need, keep_lead_id=None, actor_id=actor_id)
    return need


# --- matching --------------------------------------------------------------------------------


def product_spec(product: Product) -> engine.ProductSpec:
    return engine.ProductSpec(
        id=product.id,
        institution_id=product.institution_id,
        institution_code=product.institution.code,
        name=product.name,
        min_amount=product.min_amount,
        max_amount=product.max_amount,
        min_term_months=product.min_term_months,
        max_term_months=product.max_term_months,
        rate_min=product.rate_min,
        rate_max=product.rate_max,
        collateral=tuple(product.collateral),
        borrower_kinds=tuple(product.borrower_kinds),
        region_codes=tuple(product.region_codes),
        industries_excluded=tuple(product.industries_excluded),
        min_score=product.min_score,
        tags=tuple(product.tags),
    )


def institution_stats(session: Session, *, days: int = 90) -> dict[int, engine.InstitutionStats]:
    """Each institution's median hours to claim over the window and open leads per officer."""
    since = utcnow() - dt.timedelta(days=days)
    # The median is computed in the database: every dispatch calls this, over every claimed lead.
    hours: dict[int, float] = {
        institution_id: median_us / MICROSECONDS_PER_HOUR
        for institution_id, median_us in grouped_medians(
            session,
            select(Lead.institution_id, duration_us(Lead.claimed_at, Lead.pushed_at)).where(
                Lead.pushed_at >= since, Lead.claimed_at.is_not(None)
            ),
        ).items()
    }
    open_leads = dict(
        session.execute(
            select(Lead.institution_id, func.count())
            .where(Lead.status.in_(list(OPEN_LEAD_STATUSES)))
            .group_by(Lead.institution_id)
        ).all()
    )
    officers = dict(
        session.execute(
            select(User.institution_id, func.count())
            .where(User.role == Role.OFFICER, User.active.is_(True))
            .group_by(User.institution_id)
        ).all()
    )
    result = {}
    for institution_id in set(hours) | set(open_leads) | {i for i in officers if i is not None}:
        count = officers.get(institution_id, 0)
        result[institution_id] = engine.InstitutionStats(
            institution_id=institution_id,
            median_hours_to_claim=hours.get(institution_id),
            approval_rate_by_band={},
            open_leads_per_officer=(open_leads.get(institution_id, 0) / count) if count else None,
        )
    return result


def match_need(session: Session, need_id: int, *, top_n: int) -> list[Lead]:
    """Run the first matching round of a submitted need.

    Safe to run twice: a need that has left `submitted` is left alone, and the unique (need,
    institution) key turns a duplicate push into a no-op. Raises NeedNotFoundError.
    """
    need = session.get(Need, need_id)
    if need is None:
        raise NeedNotFoundError(str(need_id))
    if need.status != NeedStatus.SUBMITTED:
        return []
    leads = _dispatch_round(session, need, top_n=top_n)
    target = NeedStatus.MATCHED if leads else NeedStatus.UNMATCHED
    _set_need_status(
        session,
        need,
        target,
        allowed_from=frozenset({NeedStatus.SUBMITTED}),
        actor_id=None,
        data={"leads": len(leads), "round": need.dispatch_round},
    )
    return leads


def _dispatch_round(session: Session, need: Need, *, top_n: int) -> list[Lead]:
    """Push the need to the best products of up to top_n institutions it has not been pushed to yet."""
    borrower = session.get(Borrower, need.borrower_id)
    assert borrower is not None
    score = latest_score(session, borrower.id)
    tried = frozenset(session.scalars(select(Lead.institution_id).where(Lead.need_id == need.id)))
    products = session.scalars(select(Product).where(Product.status == ProductStatus.PUBLISHED)).all()
    by_id = {p.id: p for p in products}
    result = engine.evaluate(
        engine.NeedSpec(
            amount=need.amount,
            term_months=need.term_months,
            collateral=need.collateral,
            is_renewal=need.is_renewal,
            renewal_institution_code=need.renewal_institution_code,
        ),
        engine.BorrowerSpec(
            kind=borrower.kind,
            region_code=borrower.region_code,
            industry_code=borrower.industry_code,
            score=score.score if score else None,
            grade=score.grade if score else None,
        ),
        [product_spec(p) for p in products],
        institution_stats(session),
        top_n=top_n,
        exclude_institutions=tried,
    )
    round_no = need.dispatch_round + 1
    now = utcnow()
    leads: list[Lead] = []
    for pick in result.picks:
        product = by_id[pick.product_id]
        lead = Lead(
            need_id=need.id,
            institution_id=pick.institution_id,
            product_id=pick.product_id,
            status=LeadStatus.PUSHED,
            dispatch_round=round_no,
            rank=pick.rank,
            explanation=dict(pick.explanation),
            pushed_at=now,
            updated_at=now,
            sla_due_at=add_working_hours(now, product.sla_hours),
        )
        try:
            with session.begin_nested():
                session.add(lead)
                session.flush()
        except IntegrityError:
            continue
        record_event(
            session,
            entity_type="lead",
            entity_id=lead.id,
            need_id=need.id,
            to_status=LeadStatus.PUSHED,
            data={"institution": product.institution.name, "product": product.name, "round": round_no},
        )
        leads.append(lead)
    need.dispatch_round = round_no
    need.match_summary = {
        "eligible_count": result.eligible_count,
        "exclusions": [
            {
                "product_id": ex.product_id,
                "product": by_id[ex.product_id].name,
                "institution": by_id[ex.product_id].institution.name,
                "reasons": [
                    {"code": r.code, "params": r.params, "text": engine.describe(r)} for r in ex.reasons
                ],
            }
            for ex in result.exclusions
        ],
    }
    session.flush()
    return leads


def expire_overdue_leads(session: Session, *, top_n: int, now: dt.datetime | None = None) -> list[int]:
    """The SLA sweep: pushed leads past their due time expire and their needs go to the next institutions.

    A need left with no open lead and no new institution to try is rejected. Idempotent: a lead
    already moved on is skipped by the conditional update. Returns the expired lead ids.
    """
    now = now or utcnow()
    overdue = session.scalars(
        select(Lead).where(Lead.status == LeadStatus.PUSHED, Lead.sla_due_at < now).order_by(Lead.id)
    ).all()
    expired: list[int] = []
    needs: dict[int, Need] = {}
    for lead in overdue:
        if _set_lead_status(
            session, lead, LeadStatus.EXPIRED, allowed_from=frozenset({LeadStatus.PUSHED}), actor_id=None
        ):
            expired.append(lead.id)
            need = session.get(Need, lead.need_id)
            assert need is not None
            needs[need.id] = need
    for need in needs.values():
        if need.status not in (NeedStatus.MATCHED, NeedStatus.IN_PROGRESS):
            continue
        open_count = session.scalar(
            select(func.count()).where(Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)))
        )
        if open_count:
            continue
        leads = _dispatch_round(session, need, top_n=top_n)
        record_event(
            session,
            entity_type="need",
            entity_id=need.id,
            need_id=need.id,
            from_status=need.status,
            to_status=need.status,
            note=None,
            data={"redispatched": True, "round": need.dispatch_round, "leads": len(leads)},
        )
        if not leads:
            _settle_need_if_exhausted(session, need, actor_id=None)
    return expired


# --- leads -----------------------------------------------------------------------------------


def get_lead(session: Session, lead_id: int, *, institution_id: int) -> Lead:
    """A lead pushed to this institution. Raises LeadNotFoundError (also for another bank's lead)."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.institution_id != institution_id:
        raise LeadNotFoundError(str(lead_id))
    return lead


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


def _set_lead_status(
    session: Session,
    lead: Lead,
    to: LeadStatus,
    *,
    allowed_from: frozenset[str],
    actor_id: int | None,
    values: dict[str, Any] | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    previous = lead.status
    result = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.status.in_(list(allowed_from)))
        .values(status=to, updated_at=utcnow(), **(values or {}))
        .execution_options(synchronize_session=False)
    )
    session.refresh(lead)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    record_event(
        session,
        entity_type="lead",
        entity_id=lead.id,
        need_id=lead.need_id,
        from_status=previous,
        to_status=to,
        actor_id=actor_id,
        note=note,
        data=data,
    )
    return True


def claim_lead(session: Session, lead_id: int, *, officer_id: int, institution_id: int) -> Lead:
    """Claim a pushed lead for this officer. Exactly one concurrent claim wins.

    Raises LeadNotFoundError (unknown or another institution's) or AlreadyClaimedError.
    """
    lead = get_lead(session, lead_id, institution_id=institution_id)
    now = utcnow()
    won = _set_lead_status(
        session,
        lead,
        LeadStatus.CLAIMED,
        allowed_from=frozenset({LeadStatus.PUSHED}),
        actor_id=officer_id,
        values={"claimed_by": officer_id, "claimed_at": now},
    )
    if not won:
        raise AlreadyClaimedError(lead.status, claimed_by=lead.claimed_by)
    need = session.get(Need, lead.need_id)
    assert need is not None
    _set_need_status(
        session,
        need,
        NeedStatus.IN_PROGRESS,
        allowed_from=frozenset({NeedStatus.MATCHED}),
        actor_id=officer_id,
    )
    return lead


@dataclass
class LoanInput:
    amount: Decimal
    rate: Decimal
    term_months: int
    collateral: str
    disbursed_on: dt.date
    first_loan_borrower: bool
    renewal_without_repayment: bool


def validate_loan(data: LoanInput, *, pushed_on: dt.date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not Decimal("0") < data.amount <= MAX_NEED_AMOUNT:
        errors["loan.amount"] = ["out_of_range"]
    elif data.amount != data.amount.quantize(Decimal("0.01")):
        errors["loan.amount"] = ["too_many_decimals"]
    if not Decimal("0") < data.rate <= MAX_RATE:
        errors["loan.rate"] = ["out_of_range"]
    elif data.rate != data.rate.quantize(Decimal("0.01")):
        errors["loan.rate"] = ["too_many_decimals"]
    if not 1 <= data.term_months <= MAX_TERM_MONTHS:
        errors["loan.term_months"] = ["out_of_range"]
    if data.collateral not in COLLATERAL_KINDS:
        errors["loan.collateral"] = ["invalid_choice"]
    if data.disbursed_on > local_today():
        errors["loan.disbursed_on"] = ["in_future"]
    elif data.disbursed_on < pushed_on:
        errors["loan.disbursed_on"] = ["before_push"]
    return errors


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
    if lead.claimed_by != officer_id:
        raise NotClaimantError(str(lead_id))
    note = (note or "").strip() or None
    if to == LeadStatus.REJECTED and reason_code not in REASON_CODES:
        raise InvalidInputError({"reason_code": ["required" if not reason_code else "invalid_choice"]})
    need = session.get(Need, lead.need_id)
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
    if not _set_lead_status(
        session,
        lead,
        LeadStatus(to),
        allowed_from=frozenset({lead.status}),
        actor_id=officer_id,
        values=values,
        note=note,
        data={"reason_code": reason_code} if reason_code and to == LeadStatus.REJECTED else None,
    ):
        raise IllegalTransitionError(f"{lead.status}->{to}")
    if to == LeadStatus.DISBURSED:
        assert loan is not None
        if not _set_need_status(
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
        _close_other_leads(session, need, keep_lead_id=lead.id, actor_id=officer_id)
    elif to == LeadStatus.REJECTED:
        _settle_need_if_exhausted(session, need, actor_id=officer_id)
    return lead


def _settle_need_if_exhausted(session: Session, need: Need, *, actor_id: int | None) -> None:
    open_count = session.scalar(
        select(func.count()).where(Lead.need_id == need.id, Lead.status.in_(list(OPEN_LEAD_STATUSES)))
    )
    if open_count == 0:
        _set_need_status(
            session,
            need,
            NeedStatus.REJECTED,
            allowed_from=frozenset({NeedStatus.MATCHED, NeedStatus.IN_PROGRESS}),
            actor_id=actor_id,
        )


def loan_for_lead(session: Session, lead_id: int) -> Loan | None:
    return session.scalar(select(Loan).where(Loan.lead_id == lead_id))


def is_final(need: Need) -> bool:
    return need.status in FINAL_NEED_STATUSES
