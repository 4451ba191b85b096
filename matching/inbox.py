"""What an officer may see of the leads pushed to their institution: the read model of the inbox and of a
lead's page, for the web pages and the JSON API alike.

The policy is decided here, in the statement, not by whoever shows the result: an officer sees only their
own institution's leads; the borrower's identity (name, identifiers, founding date), the purpose of the
need and the contact phone are read only for a lead the officer has claimed themselves. Before the claim,
and to the institution's other officers, a lead shows an anonymised profile: kind, county, industry
section, a size band and the score's grade, never a name, a code or a contact.

A page is paged in SQL (LIMIT/OFFSET, its total counted by the same statement) and read with a fixed
number of statements whatever its size: one for the leads with everything they refer to one to one (need,
borrower, product, institution, loan, claimant, the latest score's grade, the contact phone) and, when the
caller shows them (the inbox page does not), each loan's performance reports as a JSON array in the same
row. Nothing is loaded per lead, and no identifier is decrypted for a lead the officer may not identify.
The statement is built once a process for each kind of filters, its values (officer, institution, the
filters' values, the page) bound at execution.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Result,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from core.models import StatusEvent, User
from core.reference import industry_section
from core.sql import json_rows
from core.types import SHANGHAI, UTCDateTime
from credit_profile.models import Borrower, CreditScore
from matching.errors import LeadNotFoundError
from matching.lead_views import (
    AnonymisedProfile,
    BorrowerIdentity,
    InstitutionRef,
    LeadEvent,
    LeadPage,
    LeadView,
    LoanView,
    PerformanceView,
    ProductRef,
    size_band,
)
from matching.loans import CORRECTION_DAYS, Declarations
from matching.models import Lead, LeadStatus, Loan, LoanPerformance, Need
from products.models import Institution, Product


@dataclass(frozen=True)
class InboxFilter:
    """What an officer narrows the inbox to. Amounts in yuan. `q` (a name, or the tail of a phone number
    or of a USCC) matches only leads the officer claimed: nobody finds out whose an anonymous lead is by
    searching for a name."""

    status: str | None = None
    mine: bool = False
    product_id: int | None = None
    region_code: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    q: str | None = None


IN_HAND_STATUSES = (LeadStatus.CLAIMED, LeadStatus.CONTACTED, LeadStatus.APPROVED)


def inbox_order() -> tuple[ColumnElement[Any], ...]:
    """The inbox's order: leads waiting to be claimed by deadline (the overdue on top), then the leads in
    hand, then the finished ones, each most recently changed first."""
    waiting = and_(Lead.status == LeadStatus.PUSHED, Lead.sla_due_at.is_not(None))
    stage = case((waiting, 0), (Lead.status.in_([s.value for s in IN_HAND_STATUSES]), 1), else_=2)
    return (stage, Lead.sla_due_at.asc().nulls_last(), Lead.updated_at.desc(), Lead.id.desc())


def officer_leads(
    session: Session,
    *,
    institution_id: int,
    officer_id: int,
    filters: InboxFilter | None = None,
    page: int = 1,
    per_page: int = 20,
    reports: bool = True,
) -> LeadPage:
    """One page of the institution's leads as this officer may see them, and their total.

    Ordered by deadline: leads waiting to be claimed first, the earliest due (so the overdue) on top,
    then the leads in hand, then the finished ones, each most recently changed first. One statement;
    a search adds one more over the officer's own claimed leads (their identifiers are encrypted, so
    the tails are compared after decryption, and only for leads the officer may identify).
    With `reports=False` (the inbox page, which shows no loan's reports) the loans' performance reports
    are not read, and each loan's `performance` is empty.
    Raises nothing: a page past the end is empty (with the total).
    """
    filters = filters or InboxFilter()
    offset = (page - 1) * per_page
    names = tuple(name for name in _FILTERS if _FILTERS[name](getattr(filters, name)))
    values = {
        "officer_id": officer_id,
        "institution_id": institution_id,
        "limit": per_page,
        "offset": offset,
        **{name: getattr(filters, name) for name in names if name != "mine"},
    }
    # The conditions as expressions only where a statement is built here: building them costs about as
    # much as the page's views (the kept statement binds the same conditions' values at execution).
    where: list[ColumnElement[bool]] | None = None
    if filters.q and filters.q.strip():
        where = _conditions(names)
        where.append(
            _search(session, filters.q.strip(), institution_id=institution_id, officer_id=officer_id)
        )
        stmt = _inbox_statement(_OFFICER, where, limit=_LIMIT, offset=_OFFSET, reports=reports)
    else:
        stmt = _page_statement(names, reports)
    rows = _plain_rows(session.execute(stmt, values))
    if rows:
        total = int(rows[0].total)
    elif offset:
        # Past the end the window had no row to count on.
        count = (
            select(func.count())
            .select_from(Lead)
            .join(Need, Need.id == Lead.need_id)
            .join(Borrower, Borrower.id == Lead.borrower_id)
            .where(*(_conditions(names) if where is None else where))
        )
        total = session.scalar(count, values) or 0
    else:
        total = 0
    items = tuple(_view(row, reports=reports) for row in rows)
    return LeadPage(items=items, total=total, page=page, per_page=per_page)


# The filters with a condition of their own (`q` searches), in InboxFilter's order, with whether a
# value of theirs narrows the inbox.
_FILTERS: dict[str, Callable[[Any], bool]] = {
    "status": bool,
    "mine": bool,
    "product_id": lambda value: value is not None,
    "region_code": bool,
    "amount_min": lambda value: value is not None,
    "amount_max": lambda value: value is not None,
}
# Bound at execution, so that one statement serves every officer, page and filter value.
_OFFICER = bindparam("officer_id", type_=Integer)
_LIMIT = bindparam("limit", type_=Integer)
_OFFSET = bindparam("offset", type_=Integer)


def _conditions(names: Sequence[str]) -> list[ColumnElement[bool]]:
    """The institution's leads narrowed by the filters `names`, every value a bound parameter named as
    the filter (`mine`: the officer's), given at execution."""
    conditions = {
        "status": lambda: Lead.status == bindparam("status"),
        "mine": lambda: Lead.claimed_by == _OFFICER,
        "product_id": lambda: Lead.product_id == bindparam("product_id"),
        "region_code": lambda: Lead.region_code == bindparam("region_code"),
        "amount_min": lambda: Need.amount >= bindparam("amount_min"),
        "amount_max": lambda: Need.amount <= bindparam("amount_max"),
    }
    return [Lead.institution_id == bindparam("institution_id"), *(conditions[name]() for name in names)]


@functools.cache
def _page_statement(names: tuple[str, ...], reports: bool) -> Select[Any]:
    """The page's statement for the filters `names`, built once a process (each of at most 128 kinds),
    its values bound at execution: building it cost as much CPU as running it."""
    return _inbox_statement(_OFFICER, _conditions(names), limit=_LIMIT, offset=_OFFSET, reports=reports)


def page_statement(*, reports: bool) -> Select[Any]:
    """The statement `officer_leads` runs for an unfiltered page, as it keeps it (built once a process):
    the leads with everything they refer to one to one, in the inbox's order, paged, each row carrying
    the total and, with `reports`, its loan's performance reports. Execute it with `officer_id`,
    `institution_id`, `limit` and `offset`. Public so that the bench's floors (portal/floors.py) run
    exactly what the inbox page (reports=False) and `GET /api/v1/leads` (reports=True) run."""
    return _page_statement((), reports)


def _inbox_statement(
    officer_id: int | BindParameter[int],
    where: Sequence[ColumnElement[bool]],
    *,
    limit: int | BindParameter[int],
    offset: int | BindParameter[int],
    reports: bool,
) -> Select[Any]:
    return (
        _lead_statement(officer_id, counted=True, reports=reports)
        .where(*where)
        .order_by(*inbox_order())
        .limit(limit)
        .offset(offset)
    )


def _search(session: Session, q: str, *, institution_id: int, officer_id: int) -> ColumnElement[bool]:
    """Leads the officer claimed whose borrower's name contains `q`, or whose contact phone or USCC ends
    with it (at least 4 characters)."""
    mine = and_(Lead.institution_id == institution_id, Lead.claimed_by == officer_id)
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    by_name = and_(mine, Borrower.name.like(pattern, escape="\\"))
    if len(q) < 4:
        return by_name
    tail = q.upper()
    phone = _contact_phone()
    rows = session.execute(
        select(Lead.id, Borrower.uscc, phone.label("phone"))
        .join(Borrower, Borrower.id == Lead.borrower_id)
        .where(mine)
    ).all()
    ids = [r.id for r in rows if (r.uscc or "").upper().endswith(tail) or (r.phone or "").endswith(q)]
    return or_(by_name, Lead.id.in_(ids)) if ids else by_name


def officer_lead(session: Session, lead_id: int, *, institution_id: int, officer_id: int) -> LeadView:
    """One lead of the institution as this officer may see it, with its history and, for the officer
    who claimed it, the borrower's declarations and history on the platform.

    Raises LeadNotFoundError (unknown, or another institution's).
    """
    stmt = _lead_statement(officer_id, counted=False, reports=True).where(
        Lead.id == lead_id, Lead.institution_id == institution_id
    )
    rows = session.execute(stmt).all()
    if not rows:
        raise LeadNotFoundError(str(lead_id))
    row = rows[0]
    view = _view(row, reports=True)
    colleague_holds = row.claimant is not None and not row.disclosed
    declared = (
        Declarations(
            declared_prior_loan=row.declared_prior_loan,
            earlier_loan_on_platform=bool(row.earlier_loan),
            is_renewal=row.is_renewal,
            renewal_institution_code=row.renewal_institution_code,
            renewal_current_amount=row.renewal_current_amount,
            renewal_matures_on=row.renewal_matures_on,
        )
        if row.disclosed
        else None
    )
    return replace(
        view, events=lead_events(session, lead_id, with_notes=not colleague_holds), declarations=declared
    )


def lead_events(session: Session, lead_id: int, *, with_notes: bool) -> tuple[LeadEvent, ...]:
    """The lead's history, oldest first, with who did what: one statement."""
    stmt = (
        select(StatusEvent, User.username)
        .outerjoin(User, User.id == StatusEvent.actor_id)
        .where(StatusEvent.entity_type == "lead", StatusEvent.entity_id == lead_id)
        .order_by(StatusEvent.at, StatusEvent.id)
    )
    return tuple(
        lead_event(event, username, with_notes=with_notes) for event, username in session.execute(stmt)
    )


def lead_event(event: StatusEvent, actor: str | None, *, with_notes: bool) -> LeadEvent:
    """A status event of a lead as its history shows it; `actor` is its actor's username."""
    data = dict(event.data or {})
    kind = str(data.pop("kind", "status"))
    return LeadEvent(
        at=event.at,
        kind=kind,
        from_status=event.from_status,
        to_status=event.to_status,
        actor=actor,
        note=event.note if with_notes else None,
        data=data if with_notes or kind != "loan_corrected" else {},
    )


_Claimant = aliased(User, name="claimant")
_Contact = aliased(User, name="contact")
_Earlier = aliased(Loan, name="earlier")
_Reporter = aliased(User, name="reporter")


def _contact_phone() -> Any:
    """The borrower's contact: the phone of their first account."""
    return (
        select(_Contact.phone)
        .where(_Contact.borrower_id == Lead.borrower_id)
        .order_by(_Contact.id)
        .limit(1)
        .scalar_subquery()
    )


def _reports() -> Any:
    """The loan's performance reports with their reporters' usernames, as one JSON array (`_report`)."""
    return (
        select(
            json_rows(
                LoanPerformance.id,
                LoanPerformance.as_of,
                LoanPerformance.overdue_30,
                LoanPerformance.overdue_90,
                LoanPerformance.reported_at,
                _Reporter.username,
            )
        )
        .select_from(LoanPerformance)
        .outerjoin(_Reporter, _Reporter.id == LoanPerformance.reported_by)
        .where(LoanPerformance.loan_id == Loan.id)
        .scalar_subquery()
    )


def _lead_statement(officer_id: int | BindParameter[int], *, counted: bool, reports: bool) -> Select[Any]:
    """The leads joined with everything they refer to one to one, and with `reports` their loan's
    performance reports; what identifies the borrower is read only where the officer claimed the lead
    (else NULL, never decrypted)."""
    disclosed = Lead.claimed_by == officer_id

    def only_disclosed(column: Any) -> Any:
        return type_coerce(case((disclosed, column), else_=null()), column.type)

    score = (
        select(CreditScore.grade)
        .where(CreditScore.borrower_id == Lead.borrower_id)
        .order_by(CreditScore.computed_at.desc(), CreditScore.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    phone = _contact_phone()
    columns: list[Any] = [
        Lead.id,
        Lead.status,
        Lead.need_id,
        Lead.borrower_id,
        Lead.pushed_at,
        Lead.sla_due_at,
        Lead.claimed_at,
        Lead.reason_code,
        Lead.stale_flagged_at,
        Lead.explanation,
        Lead.borrower_kind,
        Lead.region_code,
        Lead.industry_code,
        disclosed.label("disclosed"),
        _Claimant.username.label("claimant"),
        Institution.code.label("institution_code"),
        Institution.name.label("institution_name"),
        Product.id.label("product_id"),
        Product.name.label("product_name"),
        Need.amount,
        Need.term_months,
        Need.collateral,
        Need.is_renewal,
        only_disclosed(Need.purpose).label("purpose"),
        Borrower.employees,
        only_disclosed(Borrower.name).label("borrower_name"),
        only_disclosed(Borrower.uscc).label("uscc"),
        only_disclosed(Borrower.id_number).label("id_number"),
        only_disclosed(Borrower.established_on).label("established_on"),
        type_coerce(case((disclosed, phone), else_=null()), _Contact.phone.type).label("contact_phone"),
        score.label("score_band"),
        Loan.id.label("loan_id"),
        Loan.amount.label("loan_amount"),
        Loan.rate.label("loan_rate"),
        Loan.term_months.label("loan_term_months"),
        Loan.collateral.label("loan_collateral"),
        Loan.disbursed_on.label("loan_disbursed_on"),
        Loan.first_loan_borrower.label("loan_first_loan_borrower"),
        Loan.renewal_without_repayment.label("loan_renewal_without_repayment"),
        Loan.created_at.label("loan_created_at"),
    ]
    if reports:
        columns.append(_reports().label("reports"))
    if counted:
        columns.append(func.count().over().label("total"))
    else:
        earlier = exists().where(_Earlier.borrower_id == Lead.borrower_id, _Earlier.lead_id != Lead.id)
        columns += [
            Need.declared_prior_loan,
            Need.renewal_institution_code,
            Need.renewal_current_amount,
            Need.renewal_matures_on,
            earlier.label("earlier_loan"),
        ]
    return (
        select(*columns)
        .select_from(Lead)
        .join(Need, Need.id == Lead.need_id)
        .join(Borrower, Borrower.id == Lead.borrower_id)
        .join(Product, Product.id == Lead.product_id)
        .join(Institution, Institution.id == Lead.institution_id)
        .outerjoin(_Claimant, _Claimant.id == Lead.claimed_by)
        .outerjoin(Loan, Loan.lead_id == Lead.id)
    )


_UTC = UTCDateTime()


def _plain_rows(result: Result[Any]) -> list[Any]:
    """The result's rows as named tuples of their columns: `_view` reads some 35 columns of each row, and
    a Row's attribute costs some 0.3 µs (SQLAlchemy looks the name up), a named tuple's a twentieth."""
    fields = _row_type(tuple(result.keys()))
    return [fields._make(row) for row in result]


@functools.cache
def _row_type(names: tuple[str, ...]) -> Any:
    """A named tuple class for a statement's columns, made once a process for each statement's."""
    return collections.namedtuple("LeadRow", names)


def _report(values: Sequence[Any], *, lead_id: int, loan_id: int) -> PerformanceView:
    """A report from its JSON array in `_reports` (values as JSON has them: ISO 8601 text, 1/0 on SQLite),
    typed as the columns would have been read."""
    report_id, as_of, overdue_30, overdue_90, reported_at, reported_by = values
    return PerformanceView(
        id=report_id,
        lead_id=lead_id,
        loan_id=loan_id,
        as_of=dt.date.fromisoformat(as_of),
        overdue_30=bool(overdue_30),
        overdue_90=bool(overdue_90),
        reported_at=_UTC.process_result_value(dt.datetime.fromisoformat(reported_at), None),  # type: ignore[arg-type]
        reported_by=reported_by,
    )


def _performance(r: Any) -> tuple[PerformanceView, ...]:
    """The loan's reports, oldest first (by id, as they were written)."""
    if not r.reports:
        return ()
    return tuple(
        _report(values, lead_id=r.id, loan_id=r.loan_id) for values in sorted(r.reports, key=lambda v: v[0])
    )


def _view(r: Any, *, reports: bool) -> LeadView:
    disclosed = bool(r.disclosed)
    return LeadView(
        id=r.id,
        status=r.status,
        need_id=r.need_id,
        institution=InstitutionRef(code=r.institution_code, name=r.institution_name),
        product=ProductRef(id=r.product_id, name=r.product_name),
        amount=r.amount,
        term_months=r.term_months,
        collateral=r.collateral,
        purpose=r.purpose if disclosed else None,
        is_renewal=r.is_renewal,
        pushed_at=r.pushed_at,
        sla_due_at=r.sla_due_at,
        claimed_at=r.claimed_at,
        claimed_by=r.claimant,
        reason_code=r.reason_code,
        stale_flagged_at=r.stale_flagged_at,
        explanation=r.explanation,
        profile=AnonymisedProfile(
            kind=r.borrower_kind,
            region_code=r.region_code,
            industry_section=industry_section(r.industry_code),
            size_band=size_band(r.employees),
            score_band=r.score_band,
        ),
        borrower=BorrowerIdentity(
            id=r.borrower_id,
            kind=r.borrower_kind,
            name=r.borrower_name,
            uscc=r.uscc,
            id_number=r.id_number,
            region_code=r.region_code,
            industry_code=r.industry_code,
            established_on=r.established_on,
            employees=r.employees,
        )
        if disclosed
        else None,
        contact_phone=r.contact_phone if disclosed else None,
        loan=LoanView(
            amount=r.loan_amount,
            rate=r.loan_rate,
            term_months=r.loan_term_months,
            collateral=r.loan_collateral,
            disbursed_on=r.loan_disbursed_on,
            first_loan_borrower=r.loan_first_loan_borrower,
            renewal_without_repayment=r.loan_renewal_without_repayment,
            performance=_performance(r) if reports else (),
            correctable_until=min(r.loan_disbursed_on, r.loan_created_at.astimezone(SHANGHAI).date())
            + dt.timedelta(days=CORRECTION_DAYS),
        )
        if r.loan_id is not None
        else None,
    )
