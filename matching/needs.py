"""Financing needs: submitting, validating, reading and withdrawing them.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.events import record_event
from core.models import StatusEvent, User
from core.outbox import add_job
from core.reference import COLLATERAL_KINDS
from core.types import local_today, money, utcnow
from credit_profile.models import Borrower
from credit_profile.scoring import has_data, latest_score
from matching import engine
from matching.dispatch import product_spec
from matching.errors import (
    DuplicateNeedError,
    NeedNotFoundError,
    NeedStateError,
    TooManyOpenNeedsError,
)
from matching.models import (
    FINAL_NEED_STATUSES,
    Lead,
    Loan,
    Need,
    NeedStatus,
)
from matching.states import close_other_leads, lock_need, set_need_status
from products.models import Institution, Product, ProductStatus

MAX_NEED_AMOUNT = Decimal("100000000.00")
MAX_TERM_MONTHS = 360
MAX_RATE = Decimal("36.00")
MATCH_JOB = "match_need"
WITHDRAWABLE = frozenset(
    {NeedStatus.SUBMITTED, NeedStatus.MATCHED, NeedStatus.UNMATCHED, NeedStatus.IN_PROGRESS}
)
# Open needs are those still being worked on; an applicant may have this many at once (one need posted
# thirty times in seconds became 93 leads and ~186 text messages).
OPEN_NEED_STATUSES = WITHDRAWABLE
MAX_OPEN_NEEDS = 3


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


def lock_borrower(session: Session, borrower_id: int) -> None:
    """Hold the borrower's row to the end of the transaction, so that two submissions of one applicant
    are checked against each other's needs rather than both against the needs before them."""
    session.execute(select(Borrower.id).where(Borrower.id == borrower_id).with_for_update())


def check_open_needs(
    session: Session, *, borrower_id: int, amount: Decimal, term_months: int, collateral: str,
    except_need_id: int | None = None, adding: bool = True,
) -> None:  # fmt: skip
    """Refuse a need identical (amount, term, collateral) to an open one of the borrower, or, `adding`,
    one beyond MAX_OPEN_NEEDS. Raises DuplicateNeedError, TooManyOpenNeedsError."""
    rows = session.execute(
        select(Need.id, Need.amount, Need.term_months, Need.collateral).where(
            Need.borrower_id == borrower_id, Need.status.in_(list(OPEN_NEED_STATUSES))
        )
    ).all()
    others = [row for row in rows if row.id != except_need_id]
    if any(
        money(row.amount) == money(amount) and row.term_months == term_months and row.collateral == collateral
        for row in others
    ):
        raise DuplicateNeedError()
    if adding and len(others) >= MAX_OPEN_NEEDS:
        raise TooManyOpenNeedsError()


@dataclass(frozen=True)
class ProductFit:
    """Whether one published product can serve a need, and if not, every rule it fails."""

    product: Product
    reasons: tuple[engine.ExclusionReason, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons


def borrower_spec(session: Session, borrower: Borrower) -> engine.BorrowerSpec:
    score = latest_score(session, borrower.id)
    if not has_data(score):
        score = None
    return engine.BorrowerSpec(
        kind=borrower.kind,
        region_code=borrower.region_code,
        industry_code=borrower.industry_code,
        score=score.score if score else None,
        grade=score.grade if score else None,
    )


def need_spec(data: NeedInput) -> engine.NeedSpec:
    return engine.NeedSpec(
        amount=data.amount,
        term_months=data.term_months,
        collateral=data.collateral,
        is_renewal=data.renewal is not None,
        renewal_institution_code=data.renewal.institution_code if data.renewal else None,
    )


def product_fit(session: Session, *, borrower_id: int, product_id: int, data: NeedInput) -> ProductFit:
    """The engine's verdict on one published product for the need the borrower is about to post.
    Raises InvalidInputError (`product_id: unknown`) for a product that is not published."""
    product = session.get(Product, product_id)
    borrower = session.get(Borrower, borrower_id)
    if product is None or product.status != ProductStatus.PUBLISHED or borrower is None:
        raise InvalidInputError({"product_id": ["unknown"]})
    result = engine.evaluate(
        need_spec(data), borrower_spec(session, borrower), [product_spec(product)], {}, top_n=1
    )
    reasons = result.exclusions[0].reasons if result.exclusions else ()
    return ProductFit(product, reasons)


def submit_need(
    session: Session,
    *,
    borrower_id: int,
    data: NeedInput,
    actor_id: int | None,
    product_id: int | None = None,
) -> Need:
    """Record a financing need and queue its matching (outbox). With `product_id` (the applicant
    applied for that product), the first round pushes to it first.

    Raises InvalidInputError (the need's fields; `product_id` with the product's exclusion codes when
    it cannot serve the need), DuplicateNeedError, TooManyOpenNeedsError.
    """
    errors = validate_need(session, data)
    if errors:
        raise InvalidInputError(errors)
    lock_borrower(session, borrower_id)
    check_open_needs(
        session,
        borrower_id=borrower_id,
        amount=data.amount,
        term_months=data.term_months,
        collateral=data.collateral,
    )
    if product_id is not None:
        fit = product_fit(session, borrower_id=borrower_id, product_id=product_id, data=data)
        if not fit.eligible:
            raise InvalidInputError({"product_id": [reason.code for reason in fit.reasons]})
    need = Need(
        borrower_id=borrower_id,
        created_by=actor_id,
        amount=money(data.amount),
        term_months=data.term_months,
        purpose=data.purpose.strip(),
        collateral=data.collateral,
        declared_prior_loan=data.declared_prior_loan,
        requested_product_id=product_id,
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


def list_needs(
    session: Session, *, borrower_id: int, page: int = 1, per_page: int | None = None
) -> tuple[Sequence[Need], int]:
    """The borrower's needs, newest first, and how many there are; one page of them (in SQL) when
    `per_page` is given."""
    where = Need.borrower_id == borrower_id
    stmt = select(Need).where(where).order_by(Need.id.desc())
    if per_page is None:
        rows = session.scalars(stmt).all()
        return rows, len(rows)
    rows = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    total = session.scalar(select(func.count()).select_from(Need).where(where)) or 0
    return rows, total


@dataclass(frozen=True)
class PushedLead:
    """A lead of the applicant's need, as the applicant sees it: which bank, which product, how far."""

    id: int
    institution_code: str
    institution_name: str
    product_id: int
    product_name: str
    status: str
    pushed_at: dt.datetime
    claimed_at: dt.datetime | None
    sla_due_at: dt.datetime | None
    explanation: dict[str, Any] | None
    # The officer who claimed it, once claimed: the applicant's contact at the bank.
    officer_name: str | None = None
    officer_phone: str | None = None


@dataclass(frozen=True)
class NeedLoan:
    """The loan a need ended in, as the applicant sees it."""

    amount: Decimal
    rate: Decimal
    term_months: int
    disbursed_on: dt.date
    matures_on: dt.date
    institution_code: str
    institution_name: str


# Lead statuses that mean an institution looked at the need and said no (`declined`: before claiming).
DECIDED_AGAINST = frozenset({"rejected", "declined"})


def outcome_of(need_status: str, lead_statuses: Sequence[str]) -> str | None:
    """Why a `rejected` need ended: `declined` when an institution turned it down, `no_response` when
    every institution let its time pass (or none was left); None for any other status."""
    if need_status != NeedStatus.REJECTED:
        return None
    return "declined" if DECIDED_AGAINST.intersection(lead_statuses) else "no_response"


def rejection_outcome(session: Session, need_id: int) -> str | None:
    """`outcome_of` the need as stored now (one query for its status, one for its leads)."""
    need = session.get(Need, need_id)
    if need is None:
        return None
    statuses = session.scalars(select(Lead.status).where(Lead.need_id == need_id)).all()
    return outcome_of(need.status, statuses)


@dataclass(frozen=True)
class NeedView:
    """A need with everything its page shows: its leads, its loan and, for the detail, its timeline."""

    need: Need
    leads: tuple[PushedLead, ...]
    events: tuple[StatusEvent, ...]
    loan: NeedLoan | None = None

    @property
    def outcome(self) -> str | None:
        return outcome_of(self.need.status, [lead.status for lead in self.leads])


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it has fewer days."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def need_views(session: Session, needs: Sequence[Need], *, with_events: bool) -> list[NeedView]:
    """The needs with their leads and claiming officers (one statement for all of them), their loans
    (one more) and, `with_events`, their timelines (one more), in the order given."""
    ids = [need.id for need in needs]
    leads: dict[int, list[PushedLead]] = {i: [] for i in ids}
    events: dict[int, list[StatusEvent]] = {i: [] for i in ids}
    loans: dict[int, NeedLoan] = {}
    if ids:
        rows = session.execute(
            select(
                Lead.need_id,
                Lead.id,
                Institution.code,
                Institution.name,
                Product.id,
                Product.name,
                Lead.status,
                Lead.pushed_at,
                Lead.claimed_at,
                Lead.sla_due_at,
                Lead.explanation,
                User.username,
                User.phone,
            )
            .join(Institution, Institution.id == Lead.institution_id)
            .join(Product, Product.id == Lead.product_id)
            .outerjoin(User, User.id == Lead.claimed_by)
            .where(Lead.need_id.in_(ids))
            .order_by(Lead.id)
        )
        for need_id, *lead in rows:
            leads[need_id].append(PushedLead(*lead))
        for loan, code, name in session.execute(
            select(Loan, Institution.code, Institution.name)
            .join(Institution, Institution.id == Loan.institution_id)
            .where(Loan.need_id.in_(ids))
        ):
            loans[loan.need_id] = NeedLoan(
                amount=loan.amount,
                rate=loan.rate,
                term_months=loan.term_months,
                disbursed_on=loan.disbursed_on,
                matures_on=add_months(loan.disbursed_on, loan.term_months),
                institution_code=code,
                institution_name=name,
            )
        if with_events:
            timeline = select(StatusEvent).where(StatusEvent.need_id.in_(ids))
            for event in session.scalars(timeline.order_by(StatusEvent.at, StatusEvent.id)):
                assert event.need_id is not None
                events[event.need_id].append(event)
    return [
        NeedView(need, tuple(leads[need.id]), tuple(events[need.id]), loans.get(need.id)) for need in needs
    ]


def need_events(session: Session, need_id: int) -> Sequence[StatusEvent]:
    """The need's timeline: its own status changes and those of its leads, oldest first."""
    return session.scalars(
        select(StatusEvent).where(StatusEvent.need_id == need_id).order_by(StatusEvent.at, StatusEvent.id)
    ).all()


def withdraw_need(session: Session, need: Need, *, actor_id: int | None) -> Need:
    """Withdraw the need and close its open leads. Raises NeedStateError once it is final."""
    lock_need(session, need.id)
    if not set_need_status(session, need, NeedStatus.WITHDRAWN, allowed_from=WITHDRAWABLE, actor_id=actor_id):
        raise NeedStateError(need.status)
    close_other_leads(session, need, keep_lead_id=None, actor_id=actor_id)
    return need


def is_final(need: Need) -> bool:
    return need.status in FINAL_NEED_STATUSES
