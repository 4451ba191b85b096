"""Drill-down: the rows behind a figure, with identifiers masked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from core.masking import Personal, borrower_name, mask
from core.types import SHANGHAI
from credit_profile.models import Borrower, BorrowerKind
from matching.models import FINAL_NEED_STATUSES, Lead, LeadStatus, Loan, Need
from products.models import Institution, Product
from stats.breakdowns import NotAttributableError, tag_products
from stats.funnels import need_reached, sla_breach
from stats.maturities import loan_maturity
from stats.windows import BUSINESS_KINDS, CREDIT, INCLUSIVE_LINE, Window, in_region

MAX_DRILLDOWN_ROWS = 50_000
# Columns a drill-down can be sorted by (newest first without one).
SORTS = ("date", "amount", "id", "rate", "matures_on")


NEED_FIGURES = {
    "needs": None,
    "needs_amount": None,
    "renewal_requests": "renewal",
    "renewal_success_rate": "renewal_final",
    "funnel_matched": "matched",
    "funnel_claimed": "claimed",
    "funnel_contacted": "contacted",
    "funnel_approved": "approved",
    "funnel_disbursed": "disbursed",
    "maturing_needs": "maturing",
}
LEAD_FIGURES = {
    "leads_pushed": None,
    "leads_claimed": "claimed",
    "median_hours_to_claim": "claimed",
    "sla_breaches": "sla_breach",
}
LOAN_FIGURES = {
    "loans": None,
    "loans_amount": None,
    "borrowers": None,
    "avg_rate": None,
    "first_loan_borrowers": "first",
    "first_loan_share": "first",
    "first_loan_loans": "first",
    "first_loan_amount": "first",
    "renewal_loans": "renewal",
    "renewal_amount": "renewal",
    "credit_loan_share": "credit",
    "credit_loans": "credit",
    "credit_amount": "credit",
    "farmer_loans": "farmer",
    "farmer_amount": "farmer",
    "inclusive_loans_pboc": "pboc",
    "inclusive_amount_pboc": "pboc",
    "inclusive_borrowers_pboc": "pboc",
    "inclusive_loans_nfra": "nfra",
    "inclusive_amount_nfra": "nfra",
    "inclusive_borrowers_nfra": "nfra",
    "maturing_loans": "maturing",
}
DRILLDOWN_FIGURES = (*NEED_FIGURES, *LEAD_FIGURES, *LOAN_FIGURES)


def _group_condition(
    session: Session, family: str, by: str | None, key: str | None
) -> list[ColumnElement[bool]]:
    if by is None:
        return []
    if by == "county":
        return [Borrower.region_code == key]
    if by == "kind":
        return [Borrower.kind == key]
    if by == "industry":
        return [Borrower.industry_section == key]
    if family == "need":
        raise NotAttributableError(by)
    column = Lead if family == "lead" else Loan
    if by == "institution":
        return [column.institution_id.in_(select(Institution.id).where(Institution.code == key))]
    if by == "tag":
        return [column.product_id.in_(tag_products(session).get(key or "", []))]
    raise ValueError(by)


def _borrower(borrower: Borrower) -> dict[str, Any]:
    person = borrower.kind == BorrowerKind.FARMER.value
    return {
        "id": borrower.id,
        "kind": borrower.kind,
        "name": borrower_name(borrower.name, is_person=person),
        "uscc": mask(Personal.USCC, borrower.uscc),
        "id_number": mask(Personal.ID_NUMBER, borrower.id_number),
        "region_code": borrower.region_code,
        "industry_code": borrower.industry_code,
    }


def _local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(SHANGHAI).date()


def drilldown(
    session: Session,
    window: Window,
    figure: str,
    *,
    by: str | None = None,
    key: str | None = None,
    limit: int = 20,
    offset: int = 0,
    sort: str | None = None,
    descending: bool = False,
    query: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The needs, leads or loans behind a figure (with the breakdown key it was read under), identities
    masked, and their total: newest first, or by `sort` (one of SORTS; ties by id); with `query`, only
    rows whose institution, product or business name contains it (never a farmer's name, which the
    office sees masked). Raises ValueError for an unknown figure, dimension or sort and
    NotAttributableError for need figures by institution or tag."""
    if sort is not None and sort not in SORTS:
        raise ValueError(sort)
    start, end = window.bounds()
    if figure in NEED_FIGURES:
        condition = NEED_FIGURES[figure]
        where = [*in_region(window), *_group_condition(session, "need", by, key)]
        if condition == "maturing":
            where += [
                Need.is_renewal.is_(True),
                Need.renewal_matures_on >= window.first,
                Need.renewal_matures_on <= window.last,
            ]
        else:
            where += [Need.submitted_at >= start, Need.submitted_at < end]
            if condition == "renewal":
                where.append(Need.is_renewal.is_(True))
            elif condition == "renewal_final":
                where += [Need.is_renewal.is_(True), Need.status.in_([s.value for s in FINAL_NEED_STATUSES])]
            elif condition is not None:
                where.append(need_reached(condition))
        if query:
            where.append(_named(query))
        need_stmt = select(Need, Borrower).join(Borrower, Borrower.id == Need.borrower_id).where(*where)
        total = session.scalar(select(func.count()).select_from(need_stmt.subquery())) or 0
        order = _order(
            {
                "date": Need.submitted_at,
                "amount": Need.amount,
                "id": Need.id,
                "matures_on": Need.renewal_matures_on,
            },
            Need.id,
            sort,
            descending,
            default=(Need.submitted_at.desc(), Need.id.desc()),
        )
        rows = session.execute(need_stmt.order_by(*order).limit(limit).offset(offset))
        return [_need_row(need, borrower) for need, borrower in rows], total
    if figure in LEAD_FIGURES:
        condition = LEAD_FIGURES[figure]
        where = [Lead.pushed_at >= start, Lead.pushed_at < end, *in_region(window)]
        where += _group_condition(session, "lead", by, key)
        if condition == "claimed":
            where.append(Lead.claimed_at.is_not(None))
        elif condition == "sla_breach":
            where.append(sla_breach())
        if query:
            where.append(_named(query, Institution.name, Product.name))
        lead_stmt = (
            select(Lead, Need, Borrower, Institution, Product)
            .join(Need, Need.id == Lead.need_id)
            .join(Borrower, Borrower.id == Lead.borrower_id)
            .join(Institution, Institution.id == Lead.institution_id)
            .join(Product, Product.id == Lead.product_id)
            .where(*where)
        )
        total = (
            session.scalar(select(func.count()).select_from(lead_stmt.with_only_columns(Lead.id).subquery()))
            or 0
        )
        order = _order(
            {"date": Lead.pushed_at, "amount": Need.amount, "id": Lead.id},
            Lead.id,
            sort,
            descending,
            default=(Lead.pushed_at.desc(), Lead.id.desc()),
        )
        lead_rows = session.execute(lead_stmt.order_by(*order).limit(limit).offset(offset))
        return [_lead_row(*row) for row in lead_rows], total
    if figure in LOAN_FIGURES:
        return _loan_rows(
            session, window, LOAN_FIGURES[figure], by, key, limit, offset, (sort, descending, query)
        )
    raise ValueError(figure)


def _named(query: str, *names: Any) -> ColumnElement[bool]:
    """The business (not farmer) borrower's name, or one of `names` (institution, product), contains
    the text, taken literally."""
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    business = and_(Borrower.kind != BorrowerKind.FARMER.value, Borrower.name.like(pattern, escape="\\"))
    return or_(business, *[name.like(pattern, escape="\\") for name in names])


def _order(
    columns: dict[str, Any], id_column: Any, sort: str | None, descending: bool, *, default: tuple[Any, ...]
) -> tuple[Any, ...]:
    if sort is None:
        return default
    column = columns.get(sort, id_column)
    return (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())


def _loan_rows(
    session: Session,
    window: Window,
    condition: str | None,
    by: str | None,
    key: str | None,
    limit: int,
    offset: int,
    shown: tuple[str | None, bool, str | None] = (None, False, None),
) -> tuple[list[dict[str, Any]], int]:
    sort, descending, query = shown
    maturity = loan_maturity()
    where = [*in_region(window), *_group_condition(session, "loan", by, key)]
    if condition == "maturing":
        where += [maturity >= window.first, maturity <= window.last]
    else:
        where += [Loan.disbursed_on >= window.first, Loan.disbursed_on <= window.last]
    stmt = (
        select(Loan, Borrower, Institution, Product, maturity.label("matures_on"))
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .join(Institution, Institution.id == Loan.institution_id)
        .join(Product, Product.id == Loan.product_id)
    )
    if condition in ("pboc", "nfra"):
        totals = (
            select(Loan.borrower_id.label("borrower_id"), func.sum(Loan.amount).label("total"))
            .where(Loan.disbursed_on >= window.first, Loan.disbursed_on <= window.last)
            .group_by(Loan.borrower_id)
            .subquery()
        )
        stmt = stmt.join(totals, totals.c.borrower_id == Loan.borrower_id)
        line = totals.c.total < INCLUSIVE_LINE if condition == "pboc" else totals.c.total <= INCLUSIVE_LINE
        where += [Borrower.kind.in_(BUSINESS_KINDS), line]
    elif condition == "first":
        where.append(Loan.first_loan_borrower.is_(True))
    elif condition == "renewal":
        where.append(Loan.renewal_without_repayment.is_(True))
    elif condition == "credit":
        where.append(Loan.collateral == CREDIT)
    elif condition == "farmer":
        where.append(Borrower.kind == BorrowerKind.FARMER.value)
    if query:
        where.append(_named(query, Institution.name, Product.name))
    stmt = stmt.where(*where)
    total = session.scalar(select(func.count()).select_from(stmt.with_only_columns(Loan.id).subquery())) or 0
    order = _order(
        {
            "date": Loan.disbursed_on,
            "amount": Loan.amount,
            "id": Loan.id,
            "rate": Loan.rate,
            "matures_on": maturity,
        },
        Loan.id,
        sort,
        descending,
        default=(maturity.asc(), Loan.id.asc())
        if condition == "maturing"
        else (Loan.disbursed_on.desc(), Loan.id.desc()),
    )
    rows = session.execute(stmt.order_by(*order).limit(limit).offset(offset))
    return [_loan_row(*row) for row in rows], total


def _need_row(need: Need, borrower: Borrower) -> dict[str, Any]:
    return {
        "type": "need",
        "id": need.id,
        "date": _local_date(need.submitted_at),
        "status": need.status,
        "amount": need.amount,
        "term_months": need.term_months,
        "collateral": need.collateral,
        "is_renewal": need.is_renewal,
        "matures_on": need.renewal_matures_on,
        "borrower": _borrower(borrower),
        "institution": None,
        "product": None,
    }


def _lead_row(
    lead: Lead, need: Need, borrower: Borrower, institution: Institution, product: Product
) -> dict[str, Any]:
    return {
        "type": "lead",
        "id": lead.id,
        "need_id": need.id,
        "date": _local_date(lead.pushed_at),
        "status": lead.status,
        "amount": need.amount,
        "term_months": need.term_months,
        "collateral": need.collateral,
        "is_renewal": need.is_renewal,
        "pushed_at": lead.pushed_at,
        "claimed_at": lead.claimed_at,
        "sla_due_at": lead.sla_due_at,
        "borrower": _borrower(borrower),
        "institution": {"code": institution.code, "name": institution.name},
        "product": {"id": product.id, "name": product.name},
    }


def _loan_row(
    loan: Loan, borrower: Borrower, institution: Institution, product: Product, matures_on: dt.date | str
) -> dict[str, Any]:
    if isinstance(matures_on, str):  # SQLite returns the computed date as text
        matures_on = dt.date.fromisoformat(matures_on)
    return {
        "type": "loan",
        "id": loan.id,
        "need_id": loan.need_id,
        "date": loan.disbursed_on,
        "status": LeadStatus.DISBURSED.value,
        "amount": loan.amount,
        "rate": loan.rate,
        "term_months": loan.term_months,
        "collateral": loan.collateral,
        "first_loan_borrower": loan.first_loan_borrower,
        "renewal_without_repayment": loan.renewal_without_repayment,
        "matures_on": matures_on,
        "borrower": _borrower(borrower),
        "institution": {"code": institution.code, "name": institution.name},
        "product": {"id": product.id, "name": product.name},
    }
