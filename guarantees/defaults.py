"""After a covered loan defaults: the bank's report with its figures, the loss waterfall, each payer's
recorded payment (代偿 by the primary payer, then claims on the parties above it), and recoveries
returned pro rata. Each step is a status event of the cover (entity `guarantee_cover`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.types import local_today
from guarantees.covers import _event, bank_cover
from guarantees.errors import StateError
from guarantees.models import (
    Compensation,
    Cover,
    CoverStatus,
    DefaultReport,
    Party,
    Recovery,
    Scheme,
)
from guarantees.waterfall import ZERO, compute_loss, shares_for_term, split_loss, split_recovery

MAX_MONEY = Decimal("100000000000")
# A generous ceiling for overdue interest (contract interest + penalty interest), a year's rate applied to
# the overdue principal for the days since disbursement, counted as at least one quarter (interest is
# usually settled quarterly). It only catches slips of a digit or of the unit (元 typed as 万元).
INTEREST_RATE_CEILING = Decimal("0.36")
INTEREST_MIN_DAYS = 90
RECOVERY_METHODS = ("repayment_plan", "counter_guarantee", "litigation", "collateral", "other")


@dataclass
class DefaultInput:
    overdue_since: dt.date
    principal: Decimal
    interest: Decimal
    collateral_realised: Decimal


def primary_party(shares: dict[str, Decimal]) -> str:
    """Who pays the bank first: the guarantor when the scheme has one, else the fund."""
    for party in (Party.GUARANTOR, Party.FUND, Party.REGUARANTOR, Party.GOVERNMENT):
        if shares.get(party, ZERO) > ZERO:
            return str(party)
    return str(Party.GUARANTOR)


def cap_headroom(session: Session, cover: Cover, scheme: Scheme) -> Decimal:
    """What the guarantee side may still pay on this bank's portfolio under the scheme: the cap rate ×
    the bank's covered amount (every cover that became active) less the guarantee side's shares of the
    bank's earlier defaults."""
    covered = session.scalar(
        select(func.coalesce(func.sum(Cover.amount), 0)).where(
            Cover.scheme_id == scheme.id,
            Cover.institution_id == cover.institution_id,
            Cover.activated_on.is_not(None),
        )
    )
    earlier = session.execute(
        select(DefaultReport.loss, DefaultReport.shares)
        .join(Cover, Cover.id == DefaultReport.cover_id)
        .where(Cover.scheme_id == scheme.id, Cover.institution_id == cover.institution_id)
    ).all()
    used = sum((loss - Decimal(shares.get("bank", "0")) for loss, shares in earlier), ZERO)
    return (Decimal(covered or 0) * scheme.comp_cap_rate).quantize(Decimal("0.01")) - used


def interest_limit(cover: Cover, principal: Decimal) -> Decimal:
    """The most overdue interest the bank may report on `principal`: the overdue principal itself, and
    at most `INTEREST_RATE_CEILING` a year on it since the loan was disbursed (at least a quarter)."""
    assert cover.activated_on is not None
    days = max((local_today() - cover.activated_on).days, INTEREST_MIN_DAYS)
    by_rate = (principal * INTEREST_RATE_CEILING * days / 365).quantize(Decimal("0.01"))
    return min(principal, by_rate)


def _validate(data: DefaultInput, cover: Cover) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("principal", "interest", "collateral_realised"):
        value: Decimal = getattr(data, name)
        if not ZERO <= value <= MAX_MONEY:
            errors[name] = ["out_of_range"]
        elif value != value.quantize(Decimal("0.01")):
            errors[name] = ["too_many_decimals"]
    if "principal" not in errors and data.principal > cover.amount:
        errors["principal"] = ["above_covered_amount"]
    if not errors.keys() & {"principal", "interest"}:
        # A digit too many in the interest or the collateral recovered is refused where it was typed.
        if data.interest > data.principal:
            errors["interest"] = ["above_overdue_principal"]
        elif data.interest > interest_limit(cover, data.principal):
            errors["interest"] = ["above_interest_limit"]
    fields_ok = not errors.keys() & {"principal", "interest", "collateral_realised"}
    if fields_ok and data.collateral_realised > data.principal + data.interest:
        errors["collateral_realised"] = ["above_principal_and_interest"]
    assert cover.activated_on is not None
    if data.overdue_since < cover.activated_on:
        errors["overdue_since"] = ["before_disbursement"]
    elif data.overdue_since > local_today():
        errors["overdue_since"] = ["in_future"]
    return errors


def report_default(
    session: Session, cover_id: int, data: DefaultInput, *, institution_id: int, user_id: int
) -> DefaultReport:
    """The bank reports a covered loan in default with its figures (事故报告). The waterfall is computed
    from the scheme's shares for the loan's term and its compensation cap, stored with its arithmetic,
    and the primary payer's 代偿 falls due.

    Raises NotFoundError, StateError (cover not active), InvalidInputError (figures).
    """
    cover = bank_cover(session, cover_id, institution_id=institution_id)
    if cover.status != CoverStatus.ACTIVE:
        raise StateError(cover.status)
    errors = _validate(data, cover)
    if errors:
        raise InvalidInputError(errors)
    scheme = session.get(Scheme, cover.scheme_id)
    assert scheme is not None
    loss = compute_loss(
        data.principal, data.interest, data.collateral_realised, covers_interest=scheme.covers_interest
    )
    shares = shares_for_term(scheme.loss_shares, scheme.tenor_bands, cover.term_months)
    primary = primary_party(shares)
    result = split_loss(loss, shares, primary=primary, cap_headroom=cap_headroom(session, cover, scheme))
    today = local_today()
    report = DefaultReport(
        cover_id=cover.id,
        overdue_since=data.overdue_since,
        principal=data.principal,
        interest=data.interest,
        collateral_realised=data.collateral_realised,
        loss=loss,
        shares={party: str(amount) for party, amount in result.shares.items()},
        workings=[line.as_json() for line in result.lines],
        claim_due_on=today + dt.timedelta(days=scheme.claim_deadline_days),
        reported_on=today,
        reported_by=user_id,
    )
    session.add(report)
    session.flush()
    if result.compensation > ZERO:
        session.add(
            Compensation(
                default_id=report.id,
                party=primary,
                kind="compensation",
                amount_due=result.compensation,
                claimed_on=today,
            )
        )
    cover.status, cover.defaulted_on = CoverStatus.DEFAULTED, data.overdue_since
    _event(session, cover, CoverStatus.ACTIVE, actor_id=user_id, loss=str(loss))
    session.flush()
    return report


def default_of(session: Session, cover_id: int) -> DefaultReport:
    report = session.scalar(select(DefaultReport).where(DefaultReport.cover_id == cover_id))
    if report is None:
        raise NotFoundError("default")
    return report


def operator_compensation_cover(session: Session, compensation_id: int, *, operator_id: int) -> int:
    """The cover a payment due belongs to, when it is on the operator's own covers. Raises
    NotFoundError for any other."""
    cover_id = session.scalar(
        select(Cover.id)
        .join(DefaultReport, DefaultReport.cover_id == Cover.id)
        .join(Compensation, Compensation.default_id == DefaultReport.id)
        .where(Compensation.id == compensation_id, Cover.operator_id == operator_id)
    )
    if cover_id is None:
        raise NotFoundError("compensation")
    return int(cover_id)


def record_payment(
    session: Session,
    compensation_id: int,
    *,
    operator_id: int,
    user_id: int,
    paid_on: dt.date,
    amount: Decimal,
) -> Compensation:
    """Record a payment in full of what a party owes (the operator records them all: it pays the bank
    and receives the claims). The primary payer's payment files the claims on the parties above it.

    Raises NotFoundError, StateError (already paid), InvalidInputError (`amount` not the amount due,
    `paid_on` before the claim or in the future).
    """
    cover = session.get(Cover, operator_compensation_cover(session, compensation_id, operator_id=operator_id))
    row = session.get(Compensation, compensation_id)
    report = session.get(DefaultReport, row.default_id) if row else None
    assert row is not None and report is not None and cover is not None
    if row.paid_on is not None:
        raise StateError("paid")
    if amount != row.amount_due:
        raise InvalidInputError({"amount": ["amount_mismatch"]})
    if paid_on < row.claimed_on:
        raise InvalidInputError({"paid_on": ["before_claim"]})
    if paid_on > local_today():
        raise InvalidInputError({"paid_on": ["in_future"]})
    row.amount_paid, row.paid_on, row.paid_recorded_by = amount, paid_on, user_id
    primary = primary_party({k: Decimal(v) for k, v in report.shares.items() if k != Party.BANK})
    if row.party == primary:
        for party, share in sorted(report.shares.items()):
            if party not in (Party.BANK, primary) and Decimal(share) > ZERO:
                session.add(
                    Compensation(
                        default_id=report.id,
                        party=party,
                        kind="claim",
                        amount_due=Decimal(share),
                        claimed_on=paid_on,
                    )
                )
    _event(session, cover, cover.status, actor_id=user_id, paid=row.party, amount=str(amount))
    session.flush()
    return row


def borne_so_far(session: Session, report: DefaultReport) -> dict[str, Decimal]:
    """What each party has actually lost so far: the bank its share (it is out of the money until paid,
    then left with its share), the primary payer what it paid less the claims it received, every other
    party what it paid."""
    paid = {
        party: amount or ZERO
        for party, amount in session.execute(
            select(Compensation.party, Compensation.amount_paid).where(Compensation.default_id == report.id)
        )
    }
    shares = {k: Decimal(v) for k, v in report.shares.items()}
    primary = primary_party({k: v for k, v in shares.items() if k != Party.BANK})
    borne = dict.fromkeys(shares, ZERO)
    primary_paid = paid.get(primary, ZERO)
    borne[Party.BANK] = report.loss - primary_paid
    others = {p: a for p, a in paid.items() if p != primary}
    borne.update(others)
    borne[primary] = primary_paid - sum(others.values(), ZERO)
    return borne


def returned_so_far(session: Session, report_id: int) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for (split,) in session.execute(select(Recovery.split).where(Recovery.default_id == report_id)):
        for party, amount in split.items():
            totals[party] = totals.get(party, ZERO) + Decimal(amount)
    return totals


def record_recovery(
    session: Session,
    cover_id: int,
    *,
    operator_id: int,
    user_id: int,
    amount: Decimal,
    recovered_on: dt.date,
    method: str,
) -> Recovery:
    """Record money recovered from the borrower and return it to every party pro rata to what it has
    borne, never more than that. Raises NotFoundError, StateError (no default), InvalidInputError."""
    cover = session.get(Cover, cover_id)
    if cover is None or cover.operator_id != operator_id:
        raise NotFoundError("cover")
    if cover.status != CoverStatus.DEFAULTED:
        raise StateError(cover.status)
    report = default_of(session, cover.id)
    errors: dict[str, list[str]] = {}
    if not ZERO < amount <= MAX_MONEY or amount != amount.quantize(Decimal("0.01")):
        errors["amount"] = ["out_of_range"]
    if method not in RECOVERY_METHODS:
        errors["method"] = ["invalid_choice"]
    if recovered_on < report.reported_on or recovered_on > local_today():
        errors["recovered_on"] = ["out_of_range"]
    if errors:
        raise InvalidInputError(errors)
    split = split_recovery(amount, borne_so_far(session, report), returned_so_far(session, report.id))
    if sum(split.values(), ZERO) == ZERO:
        raise InvalidInputError({"amount": ["nothing_to_return"]})
    row = Recovery(
        default_id=report.id,
        recovered_on=recovered_on,
        amount=amount,
        method=method,
        split={party: str(value) for party, value in split.items()},
        recorded_by=user_id,
    )
    session.add(row)
    session.flush()
    _event(session, cover, cover.status, actor_id=user_id, recovered=str(amount))
    return row
