"""Read models of the guarantees package for pages and the API: who may see which cover or bridge, and
frozen views of them (with the waterfall's arithmetic, payments, recoveries and history). Presenters
turn these into JSON or template context and run no queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models import Role, StatusEvent, User
from core.reference import CITY_CODE
from core.types import local_today, utcnow
from credit_profile.models import Borrower
from guarantees.bridges import BRIDGE_ENTITY, Clock, clock
from guarantees.covers import COVER_ENTITY
from guarantees.models import (
    BridgeApplication,
    Compensation,
    Cover,
    CoverStatus,
    DefaultReport,
    Recovery,
    Scheme,
    SchemeKind,
    SchemeProduct,
    SchemeStatus,
)
from guarantees.schemes import eligibility_errors, list_schemes
from matching.models import Lead, Loan
from products.models import Institution, Product


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a role with the institution, county or borrower it is tied to."""

    role: str
    user_id: int
    institution_id: int | None = None
    region_code: str | None = None
    borrower_id: int | None = None


def viewer_of(user: User) -> Viewer:
    """The viewer a signed-in user is."""
    return Viewer(
        role=user.role,
        user_id=user.id,
        institution_id=user.institution_id,
        region_code=user.region_code,
        borrower_id=user.borrower_id,
    )


def _may_see(
    viewer: Viewer, *, operator_id: int, institution_id: int, region_code: str, borrower_id: int
) -> bool:
    if viewer.role == Role.GUARANTOR:
        return viewer.institution_id == operator_id
    if viewer.role == Role.OFFICER:
        return viewer.institution_id == institution_id
    if viewer.role == Role.FINANCE:
        return viewer.region_code in (CITY_CODE, region_code)
    if viewer.role == Role.APPLICANT:
        return viewer.borrower_id == borrower_id
    return False


@dataclass(frozen=True)
class StepView:
    at: dt.datetime
    from_status: str | None
    to_status: str
    note: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class PaymentView:
    id: int
    party: str
    kind: str
    amount_due: Decimal
    claimed_on: dt.date
    paid_on: dt.date | None
    amount_paid: Decimal | None


@dataclass(frozen=True)
class RecoveryView:
    recovered_on: dt.date
    amount: Decimal
    method: str
    split: dict[str, Decimal]


@dataclass(frozen=True)
class DefaultView:
    overdue_since: dt.date
    principal: Decimal
    interest: Decimal
    collateral_realised: Decimal
    loss: Decimal
    shares: dict[str, Decimal]
    workings: tuple[dict[str, str], ...]
    claim_due_on: dt.date
    reported_on: dt.date
    payments: tuple[PaymentView, ...]
    recoveries: tuple[RecoveryView, ...]
    returned: dict[str, Decimal]


@dataclass(frozen=True)
class CoverView:
    id: int
    status: str
    scheme_id: int
    scheme_code: str
    scheme_name: str
    scheme_kind: str
    loss_shares: dict[str, str]
    operator_name: str
    bank_name: str
    institution_id: int
    lead_id: int
    loan_id: int | None
    borrower_id: int
    region_code: str
    amount: Decimal
    term_months: int
    fee_rate: Decimal
    requested_at: dt.datetime
    decision_due_at: dt.datetime
    overdue_decision: bool
    decided_at: dt.datetime | None
    reason: str | None
    activated_on: dt.date | None
    matures_on: dt.date | None
    filing_due_on: dt.date | None
    filed_on: dt.date | None
    filing_batch: str | None
    released_on: dt.date | None
    default: DefaultView | None
    steps: tuple[StepView, ...]


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    return dict(
        session.execute(select(Institution.id, Institution.name).where(Institution.id.in_(ids))).all()
    )


def _steps(session: Session, entity: str, entity_id: int) -> tuple[StepView, ...]:
    rows = session.scalars(
        select(StatusEvent)
        .where(StatusEvent.entity_type == entity, StatusEvent.entity_id == entity_id)
        .order_by(StatusEvent.id)
    )
    return tuple(StepView(e.at, e.from_status, e.to_status, e.note, dict(e.data or {})) for e in rows)


def _cover_view(session: Session, cover: Cover, scheme: Scheme, names: dict[int, str]) -> CoverView:
    report = session.scalar(select(DefaultReport).where(DefaultReport.cover_id == cover.id))
    default = None
    if report is not None:
        payments = tuple(
            PaymentView(c.id, c.party, c.kind, c.amount_due, c.claimed_on, c.paid_on, c.amount_paid)
            for c in session.scalars(
                select(Compensation).where(Compensation.default_id == report.id).order_by(Compensation.id)
            )
        )
        recoveries = tuple(
            RecoveryView(r.recovered_on, r.amount, r.method, {k: Decimal(v) for k, v in r.split.items()})
            for r in session.scalars(
                select(Recovery).where(Recovery.default_id == report.id).order_by(Recovery.id)
            )
        )
        returned: dict[str, Decimal] = {}
        for r in recoveries:
            for party, amount in r.split.items():
                returned[party] = returned.get(party, Decimal(0)) + amount
        default = DefaultView(
            report.overdue_since,
            report.principal,
            report.interest,
            report.collateral_realised,
            report.loss,
            {k: Decimal(v) for k, v in report.shares.items()},
            tuple(report.workings),
            report.claim_due_on,
            report.reported_on,
            payments,
            recoveries,
            returned,
        )
    return CoverView(
        id=cover.id,
        status=cover.status,
        scheme_id=scheme.id,
        scheme_code=scheme.code,
        scheme_name=scheme.name,
        scheme_kind=scheme.kind,
        loss_shares={k: str(v) for k, v in scheme.loss_shares.items()},
        operator_name=names.get(cover.operator_id, ""),
        bank_name=names.get(cover.institution_id, ""),
        institution_id=cover.institution_id,
        lead_id=cover.lead_id,
        loan_id=cover.loan_id,
        borrower_id=cover.borrower_id,
        region_code=cover.region_code,
        amount=cover.amount,
        term_months=cover.term_months,
        fee_rate=cover.fee_rate,
        requested_at=cover.requested_at,
        decision_due_at=cover.decision_due_at,
        overdue_decision=cover.status == CoverStatus.REQUESTED and cover.decision_due_at < utcnow(),
        decided_at=cover.decided_at,
        reason=cover.reason,
        activated_on=cover.activated_on,
        matures_on=cover.matures_on,
        filing_due_on=cover.filing_due_on,
        filed_on=cover.filed_on,
        filing_batch=cover.filing_batch,
        released_on=cover.released_on,
        default=default,
        steps=_steps(session, COVER_ENTITY, cover.id),
    )


def cover_view(session: Session, cover_id: int, viewer: Viewer) -> CoverView:
    """One cover as the viewer may see it. Raises NotFoundError (also for a cover they may not see)."""
    cover = session.get(Cover, cover_id)
    if cover is None or not _may_see(
        viewer,
        operator_id=cover.operator_id,
        institution_id=cover.institution_id,
        region_code=cover.region_code,
        borrower_id=cover.borrower_id,
    ):
        raise NotFoundError("cover")
    scheme = session.get(Scheme, cover.scheme_id)
    assert scheme is not None
    return _cover_view(session, cover, scheme, _names(session, {cover.operator_id, cover.institution_id}))


@dataclass(frozen=True)
class QueueRow:
    id: int
    status: str
    scheme_name: str
    bank_name: str
    region_code: str
    amount: Decimal
    term_months: int
    requested_at: dt.datetime
    decision_due_at: dt.datetime
    overdue_decision: bool
    filing_due_on: dt.date | None
    filed_on: dt.date | None
    filing_overdue: bool


def cover_queue(
    session: Session,
    viewer: Viewer,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    to_file: bool = False,
) -> tuple[list[QueueRow], int]:
    """The covers a viewer may see (a guarantor its own queue, a bank its own, a finance office its
    county), requests past their SLA first, then by request time; with the total. `to_file`: only the
    active covers not yet filed (备案), the nearest filing deadline first."""
    query = select(Cover)
    if viewer.role == Role.GUARANTOR:
        query = query.where(Cover.operator_id == viewer.institution_id)
    elif viewer.role == Role.OFFICER:
        query = query.where(Cover.institution_id == viewer.institution_id)
    elif viewer.role == Role.FINANCE and viewer.region_code != CITY_CODE:
        query = query.where(Cover.region_code == viewer.region_code)
    elif viewer.role == Role.APPLICANT:
        query = query.where(Cover.borrower_id == viewer.borrower_id)
    elif viewer.role != Role.FINANCE:
        return [], 0
    if status:
        query = query.where(Cover.status == status)
    if to_file:
        query = query.where(Cover.status == CoverStatus.ACTIVE, Cover.filed_on.is_(None))
    total = session.scalar(query.with_only_columns(func.count(Cover.id))) or 0
    # Requests waiting for a decision first, the most urgent first.
    first = case((Cover.status == CoverStatus.REQUESTED, 0), else_=1)
    order = (Cover.filing_due_on, Cover.id) if to_file else (first, Cover.decision_due_at, Cover.id)
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    schemes = {s.id: s.name for s in session.scalars(select(Scheme))}
    names = _names(session, {c.institution_id for c in rows})
    now, today = utcnow(), local_today()
    return [
        QueueRow(
            c.id,
            c.status,
            schemes.get(c.scheme_id, ""),
            names.get(c.institution_id, ""),
            c.region_code,
            c.amount,
            c.term_months,
            c.requested_at,
            c.decision_due_at,
            c.status == CoverStatus.REQUESTED and c.decision_due_at < now,
            c.filing_due_on,
            c.filed_on,
            c.status == CoverStatus.ACTIVE
            and c.filed_on is None
            and c.filing_due_on is not None
            and c.filing_due_on < today,
        )
        for c in rows
    ], total


@dataclass(frozen=True)
class BridgeView:
    id: int
    status: str
    scheme_id: int
    scheme_name: str
    scheme_status: str
    paused_reason: str | None
    bank_name: str
    institution_id: int
    borrower_id: int
    region_code: str
    contract_no: str
    maturing_principal: Decimal
    matures_on: dt.date
    amount: Decimal
    max_ratio: Decimal | None
    max_days: int | None
    fee_tiers: tuple[dict[str, Any], ...]
    commitment_amount: Decimal | None
    commitment_date: dt.date | None
    commitment_signer: str | None
    commitment_doc_hash: str | None
    approved_on: dt.date | None
    disbursed_on: dt.date | None
    due_on: dt.date | None
    old_loan_repaid_on: dt.date | None
    renewal_disbursed_on: dt.date | None
    renewal_amount: Decimal | None
    returned_on: dt.date | None
    days_used: int | None
    fee: Decimal | None
    overdue_on: dt.date | None
    breach_on: dt.date | None
    reason: str | None
    clock: Clock | None
    steps: tuple[StepView, ...]


def bridge_view(session: Session, app_id: int, viewer: Viewer) -> BridgeView:
    """One bridge application as the viewer may see it, with its live clock. Raises NotFoundError."""
    app = session.get(BridgeApplication, app_id)
    scheme = session.get(Scheme, app.scheme_id) if app else None
    if (
        app is None
        or scheme is None
        or not _may_see(
            viewer,
            operator_id=scheme.operator_id,
            institution_id=app.institution_id,
            region_code=app.region_code,
            borrower_id=app.borrower_id,
        )
    ):
        raise NotFoundError("bridge")
    names = _names(session, {app.institution_id})
    return BridgeView(
        id=app.id, status=app.status, scheme_id=scheme.id, scheme_name=scheme.name,
        scheme_status=scheme.status,
        paused_reason=scheme.paused_reason, bank_name=names.get(app.institution_id, ""),
        institution_id=app.institution_id, borrower_id=app.borrower_id, region_code=app.region_code,
        contract_no=app.contract_no, maturing_principal=app.maturing_principal, matures_on=app.matures_on,
        amount=app.amount, max_ratio=scheme.bridge_max_ratio, max_days=scheme.bridge_max_days,
        fee_tiers=tuple(scheme.fee_tiers), commitment_amount=app.commitment_amount,
        commitment_date=app.commitment_date, commitment_signer=app.commitment_signer,
        commitment_doc_hash=app.commitment_doc_hash, approved_on=app.approved_on,
        disbursed_on=app.disbursed_on,
        due_on=app.due_on, old_loan_repaid_on=app.old_loan_repaid_on,
        renewal_disbursed_on=app.renewal_disbursed_on, renewal_amount=app.renewal_amount,
        returned_on=app.returned_on, days_used=app.days_used, fee=app.fee, overdue_on=app.overdue_on,
        breach_on=app.breach_on, reason=app.reason, clock=clock(scheme, app, local_today()),
        steps=_steps(session, BRIDGE_ENTITY, app.id),
    )  # fmt: skip


def bridge_list(session: Session, viewer: Viewer, *, limit: int = 50) -> list[BridgeView]:
    """The bridge applications a viewer may see, newest first."""
    query = select(BridgeApplication.id, BridgeApplication.scheme_id).order_by(BridgeApplication.id.desc())
    if viewer.role == Role.GUARANTOR:
        query = query.join(Scheme, Scheme.id == BridgeApplication.scheme_id).where(
            Scheme.operator_id == viewer.institution_id
        )
    elif viewer.role == Role.OFFICER:
        query = query.where(BridgeApplication.institution_id == viewer.institution_id)
    elif viewer.role == Role.APPLICANT:
        query = query.where(BridgeApplication.borrower_id == viewer.borrower_id)
    elif viewer.role == Role.FINANCE and viewer.region_code != CITY_CODE:
        query = query.where(BridgeApplication.region_code == viewer.region_code)
    elif viewer.role != Role.FINANCE:
        return []
    return [bridge_view(session, app_id, viewer) for app_id, _s in session.execute(query.limit(limit))]


@dataclass(frozen=True)
class SchemeOption:
    """A cover scheme as a bank officer chooses among them for a lead: its terms, and why the lead
    cannot be covered by it (eligibility codes, empty when it can; `paused` when it takes nothing new)."""

    id: int
    name: str
    kind: str
    operator_name: str
    fee_rate_cap: Decimal
    single_cap: Decimal
    comp_cap_rate: Decimal
    loss_shares: dict[str, Decimal]
    decision_sla_hours: int
    filing_deadline_days: int
    paused: bool
    paused_reason: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class LeadCoverOptions:
    """What the officer's request page shows for one of the bank's leads: the amount and term a cover
    would take, the cover already asked for (if any), and every cover scheme with its eligibility."""

    lead_id: int
    lead_status: str
    amount: Decimal
    term_months: int
    cover_id: int | None
    schemes: tuple[SchemeOption, ...]


def lead_cover_options(session: Session, lead_id: int, *, institution_id: int) -> LeadCoverOptions:
    """The schemes a bank officer may ask to cover one of the bank's leads under, each with the reasons
    it does not fit (the same rules `covers.request_cover` applies). Raises NotFoundError for another
    bank's lead."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.institution_id != institution_id:
        raise NotFoundError("lead")
    loan = session.scalar(select(Loan).where(Loan.lead_id == lead.id))
    amount = loan.amount if loan else lead.need.amount
    term = loan.term_months if loan else lead.need.term_months
    borrower = session.get(Borrower, lead.borrower_id)
    product = session.get(Product, lead.product_id)
    assert borrower is not None and product is not None
    cover_id = session.scalar(select(Cover.id).where(Cover.lead_id == lead.id))
    schemes = [s for s in list_schemes(session) if s.kind != SchemeKind.BRIDGE_FUND]
    names = _names(session, {s.operator_id for s in schemes})
    # Schemes naming the lead's product first: the bank chose the product for them.
    linked = set(
        session.scalars(select(SchemeProduct.scheme_id).where(SchemeProduct.product_id == product.id))
    )
    schemes.sort(key=lambda s: (s.id not in linked, s.id))
    options = tuple(
        SchemeOption(
            id=s.id,
            name=s.name,
            kind=s.kind,
            operator_name=names.get(s.operator_id, ""),
            fee_rate_cap=s.fee_rate_cap,
            single_cap=s.single_cap,
            comp_cap_rate=s.comp_cap_rate,
            loss_shares={k: Decimal(str(v)) for k, v in s.loss_shares.items()},
            decision_sla_hours=s.decision_sla_hours,
            filing_deadline_days=s.filing_deadline_days,
            paused=s.status != SchemeStatus.ACTIVE,
            paused_reason=s.paused_reason,
            reasons=tuple(eligibility_errors(s, borrower, amount=amount, product_tags=product.tags)),
        )
        for s in schemes
    )
    return LeadCoverOptions(lead.id, lead.status, amount, term, cover_id, options)
