"""Breakdowns of the figures by county, institution, industry, kind and tag; the monthly time series; the
indicators against the same period last year and the overview page that shows them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    SQLColumnExpression,
    case,
    false,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from core.reference import BORROWER_KINDS, INDUSTRY_SECTIONS, PRODUCT_TAGS, REGIONS
from matching.models import Lead, Loan, Need
from products.models import Institution, Product
from stats import periods
from stats.figures import figures, figures_plan, figures_with_total, run_plans, summary_of, window_header
from stats.windows import RATE_PLACES, SHARE_PLACES, Grouping, Keyed, Window, ratio

DIMENSIONS = ("county", "institution", "industry", "kind", "tag")


class NotAttributableError(ValueError):
    """A figure asked for by a dimension its rows cannot be attributed to (needs by institution)."""


def _borrowers(attribute: str, keys: Sequence[Hashable]) -> Grouping:
    """Grouped by an attribute of the borrower, read from each need's, lead's and loan's copy of it
    (matching.models.BorrowerCopy), so that no statement joins the borrowers."""
    return Grouping(
        need=Keyed(getattr(Need, attribute), on_borrower=True),
        lead=Keyed(getattr(Lead, attribute), on_borrower=True),
        loan=Keyed(getattr(Loan, attribute), on_borrower=True),
        keys=keys,
    )


def tag_products(session: Session) -> dict[str, list[int]]:
    """tag -> ids of the products (any status) that carry it."""
    result: dict[str, list[int]] = {tag: [] for tag in PRODUCT_TAGS}
    for product_id, tags in session.execute(select(Product.id, Product.tags).order_by(Product.id)):
        for tag in tags or []:
            result.setdefault(tag, []).append(product_id)
    return result


def _tag_map(session: Session) -> FromClause:
    """(product_id, tag) pairs as a derived table: a product counts under each of its tags."""
    parts = [
        select(Product.id.label("product_id"), literal(tag).label("tag")).where(Product.id.in_(ids))
        for tag, ids in tag_products(session).items()
        if ids
    ]
    if not parts:
        return select(Product.id.label("product_id"), literal("").label("tag")).where(false()).subquery()
    return union_all(*parts).subquery("product_tags") if len(parts) > 1 else parts[0].subquery("product_tags")


def grouping_for(session: Session, by: str, window: Window) -> tuple[Grouping, dict[Any, str]]:
    """The grouping of a breakdown dimension and the labels of its keys. Raises ValueError."""
    if by == "county":
        keys = [window.county] if window.county else list(REGIONS)
        return _borrowers("region_code", keys), dict(REGIONS)
    if by == "kind":
        return _borrowers("borrower_kind", list(BORROWER_KINDS)), dict(BORROWER_KINDS)
    if by == "industry":
        return _borrowers("industry_section", list(INDUSTRY_SECTIONS)), dict(INDUSTRY_SECTIONS)
    if by == "institution":
        institutions = session.execute(
            select(Institution.code, Institution.name).order_by(Institution.code)
        ).all()
        lead = Keyed(
            Institution.code, ((Institution, Institution.id == Lead.institution_id),), exclusive=True
        )
        loan = Keyed(
            Institution.code, ((Institution, Institution.id == Loan.institution_id),), exclusive=True
        )
        return Grouping(need=None, lead=lead, loan=loan, keys=[c for c, _ in institutions]), dict(
            institutions
        )
    if by == "tag":
        tags = _tag_map(session)
        lead = Keyed(tags.c.tag, ((tags, tags.c.product_id == Lead.product_id),))
        loan = Keyed(tags.c.tag, ((tags, tags.c.product_id == Loan.product_id),))
        return Grouping(need=None, lead=lead, loan=loan, keys=list(PRODUCT_TAGS)), dict(PRODUCT_TAGS)
    raise ValueError(by)


def breakdown(session: Session, window: Window, by: str) -> dict[str, Any]:
    """The summary's figures per key of the dimension `by` (county, institution, industry, kind, tag).

    Need figures are null where needs cannot be attributed (institution, tag). Raises ValueError for an
    unknown dimension.
    """
    grouping, labels = grouping_for(session, by, window)
    rows, total = figures_with_total(session, window, grouping)
    items = [{"key": key, "label": labels.get(key) if key is not None else None, **values}
             for key, values in rows.items()]  # fmt: skip
    return {**window_header(window), "by": by, "items": items, "total": total}


@dataclass(frozen=True)
class Period:
    key: str
    first: dt.date
    last: dt.date


def months(window: Window) -> list[Period]:
    """The calendar months the window touches, each clipped to the window."""
    periods = []
    start = window.first
    while start <= window.last:
        following = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        last = min(following - dt.timedelta(days=1), window.last)
        periods.append(Period(start.strftime("%Y-%m"), start, last))
        start = following
    return periods


def _bucket(
    column: SQLColumnExpression[Any], bounds: Sequence[tuple[Any, str]], last_key: str
) -> ColumnElement[Any]:
    """The key of the first bound the value lies below; rows are already limited to the window."""
    if not bounds:
        return literal(last_key)
    return case(*[(column < bound, literal(key)) for bound, key in bounds], else_=literal(last_key))


def timeseries(session: Session, window: Window) -> dict[str, Any]:
    """Every figure per calendar month of the window; each point equals the summary of its month."""
    periods = months(window)
    instant_bounds = [(Window(p.first, p.last).bounds()[1], p.key) for p in periods[:-1]]
    day_bounds = [(p.last + dt.timedelta(days=1), p.key) for p in periods[:-1]]
    last = periods[-1].key
    grouping = Grouping(
        need=Keyed(_bucket(Need.submitted_at, instant_bounds, last)),
        lead=Keyed(_bucket(Lead.pushed_at, instant_bounds, last)),
        loan=Keyed(_bucket(Loan.disbursed_on, day_bounds, last)),
        loan_total_by_key=True,
        keys=[p.key for p in periods],
    )
    rows = figures(session, window, grouping)
    items = [
        {"period": p.key, "from": p.first.isoformat(), "to": p.last.isoformat(), **rows[p.key]}
        for p in periods
    ]
    return {**window_header(window), "items": items}


# (figure, kind): kind decides how the change is shown: counts and amounts get a growth rate.
INDICATORS: tuple[tuple[str, str], ...] = (
    ("first_loan_borrowers", "count"),
    ("first_loan_share", "share"),
    ("first_loan_amount", "amount"),
    ("needs", "count"),
    ("loans", "count"),
    ("loans_amount", "amount"),
    ("borrowers", "count"),
    ("renewal_requests", "count"),
    ("renewal_success_rate", "share"),
    ("renewal_loans", "count"),
    ("renewal_amount", "amount"),
    ("credit_loan_share", "share"),
    ("avg_rate", "rate"),
    ("median_hours_to_claim", "hours"),
    ("inclusive_loans_pboc", "count"),
    ("inclusive_loans_nfra", "count"),
    ("inclusive_amount_pboc", "amount"),
    ("inclusive_amount_nfra", "amount"),
    ("inclusive_borrowers_pboc", "count"),
    ("inclusive_borrowers_nfra", "count"),
    ("farmer_loans", "count"),
    ("farmer_amount", "amount"),
)


def same_period_last_year(window: Window) -> Window:
    """The window a year earlier; a window ending on a month's end ends on that month's end a year
    earlier, so that whole months compare with whole months (28 February 2025 → 29 February 2024)."""

    def back(day: dt.date) -> dt.date:
        try:
            return day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            return day.replace(year=day.year - 1, day=28)

    last = back(window.last)
    if window.last == periods.month_end(window.last):
        last = periods.month_end(last)
    return Window(back(window.first), last, window.region_code)


def indicators(session: Session, window: Window) -> dict[str, Any]:
    """The assessment indicators for the window next to the same period a year earlier."""
    return overview(session, window)[1]


def overview(session: Session, window: Window) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary of the window and its indicators (indicators()), from one run of the statements."""
    previous_window = same_period_last_year(window)
    now_figures, then_figures = run_plans(session, figures_plan(window), figures_plan(previous_window))
    current, previous = now_figures[None], then_figures[None]
    items = []
    for name, kind in INDICATORS:
        now, then = current[name], previous[name]
        change: str | None = None
        growth: str | None = None
        if now is not None and then is not None:
            difference = Decimal(str(now)) - Decimal(str(then))
            places = {"share": SHARE_PLACES, "count": Decimal(1)}.get(kind, RATE_PLACES)
            change = str(difference.quantize(places, rounding=ROUND_HALF_UP))
            if kind in ("count", "amount"):
                growth = ratio(difference, Decimal(str(then)))
        items.append(
            {
                "code": name,
                "kind": kind,
                "value": None if now is None else str(now),
                "previous": None if then is None else str(then),
                "change": change,
                "growth": growth,
            }
        )
    return summary_of(window, current), {
        **window_header(window),
        "previous_from": previous_window.first.isoformat(),
        "previous_to": previous_window.last.isoformat(),
        "items": items,
    }
