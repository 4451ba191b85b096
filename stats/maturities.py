"""Maturities and renewals: platform loans and declared renewals falling due, by band and renewal state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased

from core.sql import add_months
from credit_profile.models import Borrower
from matching.models import Loan, Need, NeedStatus
from stats.figures import window_header
from stats.windows import Window, amount_text, in_region

MATURITY_BANDS = ((0, 30), (31, 60), (61, 90))


RENEWAL_STATES: dict[str, str] = {
    NeedStatus.SUBMITTED.value: "requested",
    NeedStatus.MATCHED.value: "requested",
    NeedStatus.IN_PROGRESS.value: "requested",
    NeedStatus.UNMATCHED.value: "unmatched",
    NeedStatus.DISBURSED.value: "renewed",
    NeedStatus.REJECTED.value: "rejected",
    NeedStatus.WITHDRAWN.value: "withdrawn",
}
RENEWAL_STATE_ORDER = ("none", "requested", "unmatched", "renewed", "rejected", "withdrawn")


def loan_maturity() -> ColumnElement[dt.date]:
    return add_months(Loan.disbursed_on, Loan.term_months)


def _latest_renewal_status() -> ColumnElement[str | None]:
    """Status of the borrower's latest renewal need submitted after the loan was recorded."""
    later = aliased(Need)
    return (
        select(later.status)
        .where(
            later.borrower_id == Loan.borrower_id,
            later.is_renewal.is_(True),
            later.submitted_at > Loan.created_at,
        )
        .order_by(later.submitted_at.desc(), later.id.desc())
        .limit(1)
        .correlate(Loan)
        .scalar_subquery()
    )


def _band(column: SQLColumnExpression[Any], origin: dt.date) -> ColumnElement[str]:
    whens = [(column <= origin + dt.timedelta(days=hi), literal(f"{lo}-{hi}")) for lo, hi in MATURITY_BANDS]
    return case(*whens, else_=literal(f"{MATURITY_BANDS[-1][1]}+"))


def band_of(day: dt.date, origin: dt.date) -> str:
    """The maturity band of a date counted in days from the window's first day."""
    days = (day - origin).days
    for lo, hi in MATURITY_BANDS:
        if days <= hi:
            return f"{lo}-{hi}"
    return f"{MATURITY_BANDS[-1][1]}+"


def maturities(session: Session, window: Window) -> dict[str, Any]:
    """Renewal needs' stated maturities and platform loans' maturities (disbursed_on + term) that fall in
    the window, by band of days from its first day and by renewal status."""
    needs = (
        select(
            _band(Need.renewal_matures_on, window.first).label("band"),
            Need.status.label("status"),
            Need.renewal_current_amount.label("amount"),
        )
        .join(Borrower, Borrower.id == Need.borrower_id)
        .where(
            Need.is_renewal.is_(True),
            Need.renewal_matures_on >= window.first,
            Need.renewal_matures_on <= window.last,
            *in_region(window),
        )
        .subquery()
    )
    maturity = loan_maturity()
    loans = (
        select(
            _band(maturity, window.first).label("band"),
            _latest_renewal_status().label("status"),
            Loan.amount.label("amount"),
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(maturity >= window.first, maturity <= window.last, *in_region(window))
        .subquery()
    )
    counts: dict[tuple[str, str, str], list[Any]] = {}
    for source, sub in (("renewal_needs", needs), ("loans", loans)):
        for band, status, count, amount in session.execute(
            select(sub.c.band, sub.c.status, func.count(), func.sum(sub.c.amount)).group_by(
                sub.c.band, sub.c.status
            )
        ):
            state = "none" if status is None else RENEWAL_STATES.get(status, status)
            entry = counts.setdefault((source, band, state), [0, Decimal(0)])
            entry[0] += count
            entry[1] += Decimal(amount or 0)
    bands = [f"{lo}-{hi}" for lo, hi in MATURITY_BANDS] + [f"{MATURITY_BANDS[-1][1]}+"]
    items = [
        {
            "source": source,
            "band": band,
            "renewal_status": state,
            "count": value[0],
            "amount": amount_text(value[1]),
        }
        for source in ("renewal_needs", "loans")
        for band in bands
        for state in RENEWAL_STATE_ORDER
        if (value := counts.get((source, band, state)))
    ]
    return {**window_header(window), "items": items}
