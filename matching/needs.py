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
from core.models import StatusEvent
from core.outbox import add_job
from core.reference import COLLATERAL_KINDS
from core.types import local_today, money, utcnow
from matching.errors import (
    NeedNotFoundError,
    NeedStateError,
)
from matching.models import (
    FINAL_NEED_STATUSES,
    Lead,
    Need,
    NeedStatus,
)
from matching.states import close_other_leads, lock_need, set_need_status
from products.models import Institution, Product

MAX_NEED_AMOUNT = Decimal("100000000.00")
MAX_TERM_MONTHS = 360
MAX_RATE = Decimal("36.00")
MATCH_JOB = "match_need"
WITHDRAWABLE = frozenset(
    {NeedStatus.SUBMITTED, NeedStatus.MATCHED, NeedStatus.UNMATCHED, NeedStatus.IN_PROGRESS}
)


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
    """A need with everything its page shows: its leads and, for the detail, its timeline."""

    need: Need
    leads: tuple[PushedLead, ...]
    events: tuple[StatusEvent, ...]

    @property
    def outcome(self) -> str | None:
        return outcome_of(self.need.status, [lead.status for lead in self.leads])


def need_views(session: Session, needs: Sequence[Need], *, with_events: bool) -> list[NeedView]:
    """The needs with their leads (one statement for all of them) and, `with_events`, their timelines
    (one more), in the order given."""
    ids = [need.id for need in needs]
    leads: dict[int, list[PushedLead]] = {i: [] for i in ids}
    events: dict[int, list[StatusEvent]] = {i: [] for i in ids}
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
            )
            .join(Institution, Institution.id == Lead.institution_id)
            .join(Product, Product.id == Lead.product_id)
            .where(Lead.need_id.in_(ids))
            .order_by(Lead.id)
        )
        for need_id, *lead in rows:
            leads[need_id].append(PushedLead(*lead))
        if with_events:
            timeline = select(StatusEvent).where(StatusEvent.need_id.in_(ids))
            for event in session.scalars(timeline.order_by(StatusEvent.at, StatusEvent.id)):
                assert event.need_id is not None
                events[event.need_id].append(event)
    return [NeedView(need, tuple(leads[need.id]), tuple(events[need.id])) for need in needs]


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
