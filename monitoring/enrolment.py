"""Asking for post-loan monitoring consent once a loan is disbursed (separately, optionally), and showing
each bank which of its loans monitoring covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.types import local_today
from credit_profile.consents import CONSENT_MAX_DAYS, grant_consent
from credit_profile.features import period_index, period_label
from credit_profile.models import Borrower, Consent, ConsentPurpose, ConsentStatus
from matching.models import Loan
from monitoring.errors import LoanNotFoundError, MonitoringConsentPausedError
from monitoring.panels import HISTORY_MONITORING_MONTHS, consent_for_loan, monitoring_consents
from products.models import Institution

MONITORING_SOURCES = ("bank_flow", "electricity", "tax")
MONITORING_PURPOSE_TEXT = "贷后监测：放款机构在贷款存续期内监测经营变化并及早提供帮助"


@dataclass(frozen=True)
class LoanCoverage:
    loan_id: int
    borrower_id: int
    borrower_name: str
    institution_name: str
    amount: Decimal
    disbursed_on: dt.date
    term_months: int
    covered: bool
    consent_id: int | None
    # The borrower's paused 贷后监测 consent for the loan when none active covers it: resumed, not granted
    # again, so the consents page offers 恢复 instead of 授权.
    paused_consent_id: int | None = None


def _maturity(loan: Loan) -> dt.date:
    month = period_index(f"{loan.disbursed_on:%Y-%m}") + loan.term_months
    year, month0 = divmod(month, 12)
    return dt.date(year, month0 + 1, 1)


def _coverages(session: Session, loans: list[Loan]) -> list[LoanCoverage]:
    consents = monitoring_consents(session, (loan.borrower_id for loan in loans))
    paused = monitoring_consents(session, (loan.borrower_id for loan in loans), status=ConsentStatus.PAUSED)
    borrower_ids = sorted({loan.borrower_id for loan in loans})
    institution_ids = sorted({loan.institution_id for loan in loans})
    names: dict[int, str] = {
        row.id: row.name
        for row in session.execute(select(Borrower.id, Borrower.name).where(Borrower.id.in_(borrower_ids)))
    }
    institutions: dict[int, str] = {
        row.id: row.name
        for row in session.execute(
            select(Institution.id, Institution.name).where(Institution.id.in_(institution_ids))
        )
    }
    result = []
    for loan in loans:
        consent = consent_for_loan(consents.get(loan.borrower_id, []), loan)
        pause = None if consent is not None else consent_for_loan(paused.get(loan.borrower_id, []), loan)
        result.append(
            LoanCoverage(
                loan_id=loan.id,
                borrower_id=loan.borrower_id,
                borrower_name=names.get(loan.borrower_id, ""),
                institution_name=institutions.get(loan.institution_id, ""),
                amount=loan.amount,
                disbursed_on=loan.disbursed_on,
                term_months=loan.term_months,
                covered=consent is not None,
                consent_id=None if consent is None else consent.id,
                paused_consent_id=None if pause is None else pause.id,
            )
        )
    return result


def borrower_loans(session: Session, borrower_id: int) -> list[LoanCoverage]:
    """The borrower's loans, newest first, each saying whether monitoring consent covers it: the ones
    that are not are what the consents page asks about."""
    loans = session.scalars(select(Loan).where(Loan.borrower_id == borrower_id).order_by(Loan.id.desc()))
    return _coverages(session, list(loans))


def institution_coverage(session: Session, institution_id: int, *, limit: int = 200) -> list[LoanCoverage]:
    """The institution's latest loans and whether each is covered by monitoring consent."""
    loans = session.scalars(
        select(Loan).where(Loan.institution_id == institution_id).order_by(Loan.id.desc()).limit(limit)
    )
    return _coverages(session, list(loans))


def consent_to_monitoring(
    session: Session, borrower_id: int, loan_id: int, *, actor_id: int | None
) -> Consent:
    """The borrower's own 贷后监测 consent for one of their loans: its bank as the only recipient, the
    three sources, data from two years before disbursement (the seasonal baseline) on, until the
    loan's maturity (at most CONSENT_MAX_DAYS), the data kept by the bank 12 months at most, fetched
    monthly. Raises LoanNotFoundError for a loan that is not theirs, MonitoringConsentPausedError when
    its consent is paused (resume that one instead), InvalidInputError.
    """
    loan = session.get(Loan, loan_id)
    if loan is None or loan.borrower_id != borrower_id:
        raise LoanNotFoundError(str(loan_id))
    (coverage,) = _coverages(session, [loan])
    if coverage.paused_consent_id is not None:
        # A second consent beside the paused one would start monitoring the borrower chose to pause.
        raise MonitoringConsentPausedError(str(coverage.paused_consent_id))
    today = local_today()
    expires = min(
        max(_maturity(loan), today + dt.timedelta(days=30)), today + dt.timedelta(days=CONSENT_MAX_DAYS)
    )
    return grant_consent(
        session,
        borrower_id=borrower_id,
        sources=MONITORING_SOURCES,
        purpose=MONITORING_PURPOSE_TEXT,
        expires_on=expires,
        actor_id=actor_id,
        period_from=period_label(period_index(f"{loan.disbursed_on:%Y-%m}") - HISTORY_MONITORING_MONTHS),
        purpose_code=ConsentPurpose.MONITORING,
        data_life_months=12,
        recipient_ids=[loan.institution_id],
    )
