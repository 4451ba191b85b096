"""The vocabulary of the figures: the window a figure covers, how rows are keyed and grouped, the figure
names in the contract's order, and the formatting of shares, rates and amounts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
)

from core.reference import CITY_CODE
from core.types import local_day_bounds
from credit_profile.models import Borrower, BorrowerKind

INCLUSIVE_LINE = Decimal("10000000")
SHARE_PLACES = Decimal("0.0001")
RATE_PLACES = Decimal("0.01")
MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)
BUSINESS_KINDS = (BorrowerKind.ENTERPRISE.value, BorrowerKind.INDIVIDUAL_BUSINESS.value)
CREDIT = "credit"

# The contract's summary fields (api-v1 "Statistics for finance offices"), in its order.
SUMMARY_FIELDS = (
    "needs", "needs_amount", "leads_pushed", "leads_claimed", "median_hours_to_claim", "loans",
    "loans_amount", "borrowers", "first_loan_borrowers", "first_loan_share", "renewal_loans",
    "renewal_amount", "renewal_requests", "renewal_success_rate", "credit_loan_share", "avg_rate",
    "inclusive_loans_pboc", "inclusive_loans_nfra", "farmer_loans", "farmer_amount",
)  # fmt: skip
# Further figures the breakdowns and time series carry (docs/metrics.md).
EXTRA_FIELDS = (
    "first_loan_loans", "first_loan_amount", "credit_loans", "credit_amount",
    "inclusive_amount_pboc", "inclusive_amount_nfra", "inclusive_borrowers_pboc", "inclusive_borrowers_nfra",
)  # fmt: skip
NEED_FIELDS = frozenset({"needs", "needs_amount", "renewal_requests", "renewal_success_rate"})
FIGURE_FIELDS = SUMMARY_FIELDS + EXTRA_FIELDS


@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    region_code: str | None = None

    @property
    def county(self) -> str | None:
        """The county to filter on, or None for the whole city."""
        return None if self.region_code in (None, "", CITY_CODE) else self.region_code

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The UTC instants [start, end) of the window's local days."""
        return local_day_bounds(self.first, self.last)


@dataclass(frozen=True)
class Keyed:
    """How a dimension keys one family of rows: an expression and the joins it needs.

    `on_borrower`: the key is the borrower's (county, kind, industry), read from the row's copy of it
    (matching.models.BorrowerCopy): every loan of a borrower has the same key, so a (borrower, key)
    group is the borrower's whole window.

    `exclusive`: every row falls under exactly one key (an institution; not a tag, which a product may
    carry several of or none), so the keys' counts and sums add up to the whole window's
    (GROUP BY ROLLUP gives them in the same pass). A key read from the borrower is always exclusive.
    """

    expr: SQLColumnExpression[Any]
    joins: tuple[tuple[Any, ColumnElement[bool]], ...] = ()
    on_borrower: bool = False
    exclusive: bool = False

    @property
    def rolls_up(self) -> bool:
        return self.on_borrower or self.exclusive


@dataclass(frozen=True)
class Grouping:
    """A dimension of a breakdown. `need`, `lead` or `loan` is None when that family of rows cannot be
    attributed to one key (a need is not any one institution's), so its figures are null.

    `loan_total_by_key`: the inclusive-line test sums the borrower's loans per key instead of over the
    whole window (time buckets, where each point is the summary of its own period).
    """

    need: Keyed | None
    lead: Keyed | None
    loan: Keyed | None
    loan_total_by_key: bool = False
    keys: Sequence[Hashable] = field(default=())


def ratio(numerator: Decimal | int, denominator: Decimal | int, places: Decimal = SHARE_PLACES) -> str | None:
    """numerator / denominator as a decimal string rounded half-up, or None when the denominator is 0."""
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_UP))


def amount_text(value: Decimal | float | int | None) -> str:
    """Yuan with 2 decimals (SQLite sums are floats: rounded half-up from their exact binary value)."""
    return str(Decimal(value or 0).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


def hours_from_microseconds(value: float | None) -> float | None:
    """A median duration in microseconds as hours rounded half-up to 2 decimals (a JSON number)."""
    if value is None:
        return None
    return float((Decimal(value) / MICROSECONDS_PER_HOUR).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


def in_region(window: Window, rows: Any = Borrower) -> list[ColumnElement[bool]]:
    """The borrower-region condition of the window (none for the whole city), on the borrowers or on
    the copy of the borrower's county that needs, leads and loans carry (`rows`: Need, Lead or Loan)."""
    return [] if window.county is None else [rows.region_code == window.county]


# The key of the whole window's row in a grouping computed WITH its total (GROUP BY ROLLUP).
TOTAL: Hashable = object()
