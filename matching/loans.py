"""Loans: what a disbursement records and whether it is plausible, corrections within 30 days, repayment
performance, renewal reminders and the training table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.reference import COLLATERAL_KINDS
from core.types import SHANGHAI, local_today, money
from credit_profile.consents import consent_for_record, record_use
from credit_profile.features import FEATURE_NAMES, FeatureValue, period_index, period_label
from credit_profile.scoring import consented_data, features_from_records
from matching import notices
from matching.errors import (
    CorrectionWindowClosedError,
    ImplausibleLoanError,
    LeadNotFoundError,
    LoanNotDisbursedError,
    NotClaimantError,
)
from matching.models import (
    Lead,
    LeadStatus,
    Loan,
    LoanPerformance,
    Need,
    NeedStatus,
)
from matching.needs import MAX_NEED_AMOUNT, MAX_RATE, MAX_TERM_MONTHS
from matching.states import lead_event
from products.models import Product

RENEWAL_REMINDER_DAYS = (60, 30, 15)


def send_renewal_reminders(session: Session, *, today: dt.date | None = None) -> int:
    """Remind applicants of renewal needs whose loan falls due within 60, 30 and 15 days.

    无还本续贷 must be applied for before the loan falls due. Each threshold is reminded once per need
    (a unique key); a need submitted late gets only the tightest threshold it has reached. Needs
    already disbursed or withdrawn get none. Returns how many reminders were written.
    """
    today = today or local_today()
    horizon = today + dt.timedelta(days=max(RENEWAL_REMINDER_DAYS))
    needs = session.scalars(
        select(Need)
        .where(
            Need.is_renewal.is_(True),
            Need.renewal_matures_on >= today,
            Need.renewal_matures_on <= horizon,
            Need.status.not_in([NeedStatus.DISBURSED, NeedStatus.WITHDRAWN]),
        )
        .order_by(Need.id)
    ).all()
    written = 0
    for need in needs:
        assert need.renewal_matures_on is not None
        days_left = (need.renewal_matures_on - today).days
        threshold = min(t for t in RENEWAL_REMINDER_DAYS if days_left <= t)
        written += notices.renewal_reminder(session, need, threshold=threshold, days_left=days_left)
    return written


@dataclass
class LoanInput:
    amount: Decimal
    rate: Decimal
    term_months: int
    collateral: str
    disbursed_on: dt.date
    first_loan_borrower: bool
    renewal_without_repayment: bool


# A loan above this multiple of the need's amount is an outlier the officer must confirm.
OUTLIER_FACTOR = Decimal(2)
# How long after its disbursement a loan may still be corrected by the officer who recorded it.
CORRECTION_DAYS = 30
CORRECTABLE_FIELDS = (
    "amount",
    "rate",
    "term_months",
    "collateral",
    "disbursed_on",
    "first_loan_borrower",
    "renewal_without_repayment",
)


def validate_loan(data: LoanInput, *, pushed_on: dt.date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not Decimal("0") < data.amount <= MAX_NEED_AMOUNT:
        errors["loan.amount"] = ["out_of_range"]
    elif data.amount != data.amount.quantize(Decimal("0.01")):
        errors["loan.amount"] = ["too_many_decimals"]
    if not Decimal("0") < data.rate <= MAX_RATE:
        errors["loan.rate"] = ["out_of_range"]
    elif data.rate != data.rate.quantize(Decimal("0.01")):
        errors["loan.rate"] = ["too_many_decimals"]
    if not 1 <= data.term_months <= MAX_TERM_MONTHS:
        errors["loan.term_months"] = ["out_of_range"]
    if data.collateral not in COLLATERAL_KINDS:
        errors["loan.collateral"] = ["invalid_choice"]
    if data.disbursed_on > local_today():
        errors["loan.disbursed_on"] = ["in_future"]
    elif data.disbursed_on < pushed_on:
        errors["loan.disbursed_on"] = ["before_push"]
    return errors


def has_earlier_loan(
    session: Session, borrower_id: int, *, on_or_before: dt.date, except_loan_id: int | None = None
) -> bool:
    """Whether the borrower has a loan on the platform disbursed on or before the date (another than
    ``except_loan_id``): such a borrower is not a 首贷户."""
    stmt = select(Loan.id).where(Loan.borrower_id == borrower_id, Loan.disbursed_on <= on_or_before)
    if except_loan_id is not None:
        stmt = stmt.where(Loan.id != except_loan_id)
    return session.scalar(stmt.limit(1)) is not None


def plausibility_codes(
    session: Session,
    data: LoanInput,
    *,
    need: Need,
    product_max: Decimal,
    confirm_outlier: bool,
    except_loan_id: int | None = None,
) -> list[str]:
    """What makes this loan implausible for its need, product and borrower (empty: nothing).

    ``amount_above_product_max`` and ``first_loan_conflict`` cannot be confirmed away; an amount above
    twice the need's (``amount_outlier``) and a 无还本续贷 declaration on a need that is not a renewal
    (``renewal_conflict``) can, with ``confirm_outlier``.
    """
    codes: list[str] = []
    if data.amount > product_max:
        codes.append("amount_above_product_max")
    if data.amount > need.amount * OUTLIER_FACTOR and not confirm_outlier:
        codes.append("amount_outlier")
    if data.first_loan_borrower and (
        need.declared_prior_loan
        or has_earlier_loan(
            session, need.borrower_id, on_or_before=data.disbursed_on, except_loan_id=except_loan_id
        )
    ):
        codes.append("first_loan_conflict")
    if data.renewal_without_repayment and not need.is_renewal and not confirm_outlier:
        codes.append("renewal_conflict")
    return codes


def check_loan(
    session: Session,
    data: LoanInput,
    *,
    lead: Lead,
    need: Need,
    confirm_outlier: bool,
    except_loan_id: int | None = None,
) -> None:
    """The shape of the loan's figures, then its plausibility for the lead's need and product (codes
    under ``loan``).

    Raises InvalidInputError (ImplausibleLoanError for the plausibility rules).
    """
    errors = validate_loan(data, pushed_on=lead.pushed_at.astimezone(SHANGHAI).date())
    if errors:
        raise InvalidInputError(errors)
    product = session.get(Product, lead.product_id)
    assert product is not None
    codes = plausibility_codes(
        session,
        data,
        need=need,
        product_max=product.max_amount,
        confirm_outlier=confirm_outlier,
        except_loan_id=except_loan_id,
    )
    if codes:
        raise ImplausibleLoanError({"loan": codes})


@dataclass(frozen=True)
class Declarations:
    """What the platform knows for the 首贷 and 续贷 flags of a disbursement: what the applicant declared
    and the borrower's history on the platform. The disbursement form is prefilled from it."""

    declared_prior_loan: bool
    earlier_loan_on_platform: bool
    is_renewal: bool
    renewal_institution_code: str | None
    renewal_current_amount: Decimal | None
    renewal_matures_on: dt.date | None

    @property
    def first_loan(self) -> bool:
        """The borrower may be a 首贷户: no prior loan declared and none on the platform."""
        return not (self.declared_prior_loan or self.earlier_loan_on_platform)


def declarations(session: Session, need: Need) -> Declarations:
    """The borrower's own declarations on the need and their history on the platform."""
    return Declarations(
        declared_prior_loan=need.declared_prior_loan,
        earlier_loan_on_platform=has_earlier_loan(session, need.borrower_id, on_or_before=local_today()),
        is_renewal=need.is_renewal,
        renewal_institution_code=need.renewal_institution_code,
        renewal_current_amount=need.renewal_current_amount,
        renewal_matures_on=need.renewal_matures_on,
    )


def correctable_until(loan: Loan) -> dt.date:
    """The last day the loan may be corrected: counted from its disbursement as first recorded (the
    earlier of the disbursement date and the day it was recorded), so a correction never extends it."""
    recorded_on = loan.created_at.astimezone(SHANGHAI).date()
    return min(loan.disbursed_on, recorded_on) + dt.timedelta(days=CORRECTION_DAYS)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def correct_loan(
    session: Session,
    lead_id: int,
    *,
    officer_id: int,
    institution_id: int,
    changes: dict[str, Any],
    reason: str,
    confirm_outlier: bool = False,
) -> Loan:
    """Correct the lead's loan: the claiming officer, within CORRECTION_DAYS of disbursement, with a
    reason. The same shape and plausibility rules as a disbursement apply to the corrected loan. The
    previous and corrected values are appended to the audit trail (a status event on the lead); the
    statistics read the loan row, so every figure follows the correction.

    Raises LeadNotFoundError (unknown, another institution's), NotClaimantError, LoanNotDisbursedError,
    CorrectionWindowClosedError, InvalidInputError (reason missing, nothing changed, shape, plausibility).
    """
    lead = session.get(Lead, lead_id)
    if lead is None or lead.institution_id != institution_id:
        raise LeadNotFoundError(str(lead_id))
    if lead.claimed_by != officer_id:
        raise NotClaimantError(str(lead_id))
    loan = session.scalar(select(Loan).where(Loan.lead_id == lead.id).with_for_update())
    if lead.status != LeadStatus.DISBURSED or loan is None:
        raise LoanNotDisbursedError(lead.status)
    if local_today() > correctable_until(loan):
        raise CorrectionWindowClosedError(str(loan.id))
    reason = reason.strip()
    if not reason:
        raise InvalidInputError({"reason": ["required"]})
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise InvalidInputError({name: ["unknown"] for name in sorted(unknown)})
    previous = {name: getattr(loan, name) for name in CORRECTABLE_FIELDS}
    corrected = {**previous, **{k: v for k, v in changes.items() if v is not None}}
    corrected["amount"], corrected["rate"] = money(corrected["amount"]), money(corrected["rate"])
    changed = {name: corrected[name] for name in CORRECTABLE_FIELDS if corrected[name] != previous[name]}
    if not changed:
        raise InvalidInputError({"loan": ["unchanged"]})
    need = session.get(Need, lead.need_id)
    assert need is not None
    check_loan(
        session,
        LoanInput(**corrected),
        lead=lead,
        need=need,
        confirm_outlier=confirm_outlier,
        except_loan_id=loan.id,
    )
    for name, value in changed.items():
        setattr(loan, name, value)
    session.flush()
    event = {
        "kind": "loan_corrected",
        "loan_id": loan.id,
        "previous": {name: _plain(previous[name]) for name in changed},
        "corrected": {name: _plain(value) for name, value in changed.items()},
    }
    lead_event(session, lead, event, actor_id=officer_id, note=reason)
    return loan


def loan_for_lead(session: Session, lead_id: int) -> Loan | None:
    return session.scalar(select(Loan).where(Loan.lead_id == lead_id))


def loans_for_leads(session: Session, lead_ids: Iterable[int]) -> dict[int, Loan]:
    """`loan_for_lead` of many leads in one query, by lead id; a lead without a loan is absent."""
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    return {loan.lead_id: loan for loan in session.scalars(select(Loan).where(Loan.lead_id.in_(ids)))}


def loan_performance(session: Session, loan_id: int) -> Sequence[LoanPerformance]:
    """Every report on the loan, oldest first."""
    return session.scalars(
        select(LoanPerformance).where(LoanPerformance.loan_id == loan_id).order_by(LoanPerformance.id)
    ).all()


def loan_performances(session: Session, loan_ids: Iterable[int]) -> dict[int, list[LoanPerformance]]:
    """`loan_performance` of many loans in one query, by loan id; a loan without reports is absent."""
    ids = sorted(set(loan_ids))
    if not ids:
        return {}
    reports: dict[int, list[LoanPerformance]] = {}
    stmt = select(LoanPerformance).where(LoanPerformance.loan_id.in_(ids)).order_by(LoanPerformance.id)
    for report in session.scalars(stmt):
        reports.setdefault(report.loan_id, []).append(report)
    return reports


TRAINING_TARGETS = ("overdue_90", "overdue_30")


@dataclass(frozen=True)
class TrainingRow:
    loan_id: int
    borrower_id: int
    disbursed_on: dt.date
    features: dict[str, FeatureValue]
    bad: int


def _outcome(reports: Sequence[LoanPerformance], target: str) -> tuple[bool, dt.date]:
    """Whether the loan went bad by its latest report (the last report per date counts), and that date."""
    latest: dict[dt.date, LoanPerformance] = {}
    for report in sorted(reports, key=lambda r: r.id):
        latest[report.as_of] = report
    bad = any(getattr(report, target) for report in latest.values())
    return bad, max(latest)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def training_table(
    session: Session, *, target: str = "overdue_90", min_months_on_book: int = 0
) -> list[TrainingRow]:
    """One row per disbursed loan with at least one performance report: the borrower's features as
    they stood at disbursement and the outcome (1 = bad: ever ``target`` by the latest report).

    Features use only records an active consent covers now (so a revoked consent removes the
    borrower's data from every later export) and months before the month of disbursement (no
    look-ahead). Each borrower's data read is recorded as a ``model_training`` use of the consents
    covering it. A loan that has not gone bad is left out until its latest report is at least
    ``min_months_on_book`` months after disbursement. Raises InvalidInputError for an unknown target.
    """
    if target not in TRAINING_TARGETS:
        raise InvalidInputError({"target": ["invalid_choice"]})
    if min_months_on_book < 0:
        raise InvalidInputError({"min_months_on_book": ["out_of_range"]})
    reports: dict[int, list[LoanPerformance]] = {}
    for report in session.scalars(select(LoanPerformance).order_by(LoanPerformance.id)):
        reports.setdefault(report.loan_id, []).append(report)
    loans = session.scalars(
        select(Loan).where(Loan.id.in_(list(reports))).order_by(Loan.disbursed_on, Loan.id)
    ).all()
    rows: list[TrainingRow] = []
    for loan in loans:
        bad, last_report = _outcome(reports[loan.id], target)
        if not bad and _months_between(loan.disbursed_on, last_report) < min_months_on_book:
            continue
        as_of = period_label(period_index(f"{loan.disbursed_on:%Y-%m}") - 1)
        data = consented_data(session, loan.borrower_id)
        records = {source: [r for r in held if r.period <= as_of] for source, held in data.records.items()}
        covering = {
            consent.id: consent
            for source, held in records.items()
            for r in held
            if (consent := consent_for_record(data.consents, source, r.period)) is not None
        }
        for consent_id in sorted(covering):
            record_use(
                session,
                borrower_id=loan.borrower_id,
                consent_id=consent_id,
                action="model_training",
                detail=f"loan {loan.id}",
            )
        rows.append(
            TrainingRow(
                loan_id=loan.id,
                borrower_id=loan.borrower_id,
                disbursed_on=loan.disbursed_on,
                features=features_from_records(records, as_of=as_of),
                bad=int(bad),
            )
        )
    return rows


TRAINING_COLUMNS = ("loan_id", *FEATURE_NAMES)
