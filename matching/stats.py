"""The finance offices' statistics summary, as defined in the API contract (docs/metrics.md).

Windows are inclusive Asia/Shanghai dates; a need or lead counts in the window its submission or push
instant falls in, a loan by its `disbursed_on` date. The region is always the borrower's.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from core.reference import CITY_CODE
from core.types import local_day_bounds
from credit_profile.models import Borrower, BorrowerKind
from matching.models import FINAL_NEED_STATUSES, Lead, Loan, Need, NeedStatus

INCLUSIVE_LINE = Decimal("10000000")
SHARE_PLACES = Decimal("0.0001")
RATE_PLACES = Decimal("0.01")
BUSINESS_KINDS = (BorrowerKind.ENTERPRISE.value, BorrowerKind.INDIVIDUAL_BUSINESS.value)


@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    region_code: str | None = None

    @property
    def county(self) -> str | None:
        """The county to filter on, or None for the whole city."""
        return None if self.region_code in (None, "", CITY_CODE) else self.region_code


def ratio(numerator: Decimal | int, denominator: Decimal | int, places: Decimal = SHARE_PLACES) -> str | None:
    """numerator / denominator as a decimal string rounded half-up, or None when the denominator is 0."""
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_UP))


def _amount(value: Decimal | None) -> str:
    return str((value or Decimal(0)).quantize(RATE_PLACES))


def _in_region(window: Window) -> list[ColumnElement[bool]]:
    """The borrower-region condition of the window (none for the whole city)."""
    return [] if window.county is None else [Borrower.region_code == window.county]


def summary(session: Session, window: Window) -> dict[str, Any]:
    """Every figure of GET /api/v1/stats/summary for the window and region."""
    start, end = local_day_bounds(window.first, window.last)

    need_row = session.execute(
        select(
            func.count(Need.id),
            func.sum(Need.amount),
            func.count(case((Need.is_renewal.is_(True), Need.id))),
        )
        .join(Borrower, Borrower.id == Need.borrower_id)
        .where(Need.submitted_at >= start, Need.submitted_at < end)
        .where(*_in_region(window))
    ).one()
    renewal_final = session.execute(
        select(
            func.count(Need.id),
            func.count(case((Need.status == NeedStatus.DISBURSED.value, Need.id))),
        )
        .join(Borrower, Borrower.id == Need.borrower_id)
        .where(
            Need.submitted_at >= start,
            Need.submitted_at < end,
            Need.is_renewal.is_(True),
            Need.status.in_([s.value for s in FINAL_NEED_STATUSES]),
        )
        .where(*_in_region(window))
    ).one()

    claim_rows = session.execute(
        select(Lead.pushed_at, Lead.claimed_at)
        .join(Need, Need.id == Lead.need_id)
        .join(Borrower, Borrower.id == Need.borrower_id)
        .where(Lead.pushed_at >= start, Lead.pushed_at < end)
        .where(*_in_region(window))
    ).all()
    hours = [(c - p).total_seconds() / 3600 for p, c in claim_rows if c is not None]

    loan_filter = and_(Loan.disbursed_on >= window.first, Loan.disbursed_on <= window.last)
    totals = (
        select(Loan.borrower_id.label("borrower_id"), func.sum(Loan.amount).label("total"))
        .where(loan_filter)
        .group_by(Loan.borrower_id)
        .subquery()
    )
    business = Borrower.kind.in_(BUSINESS_KINDS)
    farmer = Borrower.kind == BorrowerKind.FARMER.value
    loan_row = session.execute(
        select(
            func.count(Loan.id),
            func.sum(Loan.amount),
            func.count(func.distinct(Loan.borrower_id)),
            func.count(func.distinct(case((Loan.first_loan_borrower.is_(True), Loan.borrower_id)))),
            func.count(case((Loan.renewal_without_repayment.is_(True), Loan.id))),
            func.sum(case((Loan.renewal_without_repayment.is_(True), Loan.amount))),
            func.sum(case((Loan.collateral == "credit", Loan.amount))),
            func.sum(Loan.amount * Loan.rate),
            func.count(case((and_(business, totals.c.total < INCLUSIVE_LINE), Loan.id))),
            func.count(case((and_(business, totals.c.total <= INCLUSIVE_LINE), Loan.id))),
            func.count(case((farmer, Loan.id))),
            func.sum(case((farmer, Loan.amount))),
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .join(totals, totals.c.borrower_id == Loan.borrower_id)
        .where(loan_filter)
        .where(*_in_region(window))
    ).one()
    (
        loans,
        loans_amount,
        borrowers,
        first_loan_borrowers,
        renewal_loans,
        renewal_amount,
        credit_amount,
        rate_weighted,
        inclusive_pboc,
        inclusive_nfra,
        farmer_loans,
        farmer_amount,
    ) = loan_row
    loans_amount = Decimal(loans_amount or 0)
    return {
        "from": window.first.isoformat(),
        "to": window.last.isoformat(),
        "region_code": window.county or CITY_CODE,
        "needs": need_row[0],
        "needs_amount": _amount(need_row[1]),
        "leads_pushed": len(claim_rows),
        "leads_claimed": len(hours),
        "median_hours_to_claim": round(statistics.median(hours), 2) if hours else None,
        "loans": loans,
        "loans_amount": _amount(loans_amount),
        "borrowers": borrowers,
        "first_loan_borrowers": first_loan_borrowers,
        "first_loan_share": ratio(first_loan_borrowers, borrowers),
        "renewal_loans": renewal_loans,
        "renewal_amount": _amount(renewal_amount),
        "renewal_requests": need_row[2],
        "renewal_success_rate": ratio(renewal_final[1], renewal_final[0]),
        "credit_loan_share": ratio(Decimal(credit_amount or 0), loans_amount),
        "avg_rate": ratio(Decimal(rate_weighted or 0), loans_amount, RATE_PLACES),
        "inclusive_loans_pboc": inclusive_pboc,
        "inclusive_loans_nfra": inclusive_nfra,
        "farmer_loans": farmer_loans,
        "farmer_amount": _amount(farmer_amount),
    }
