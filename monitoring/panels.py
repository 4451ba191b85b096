"""Loading the monitored data into a signal panel: which loans are monitored, under which consent, and
their peers' consented records. The only module that reads data records for monitoring.

A loan is monitored while its borrower holds an active (not paused, unexpired) 贷后监测 consent whose
recipients include the loan's institution (or name none). Only records that consent covers (source and
data month) enter the panel; a borrower without one contributes nothing, not even to peers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.types import local_today
from credit_profile.consents import consent_for_record, effective_status
from credit_profile.features import period_index, period_label
from credit_profile.models import Consent, ConsentPurpose, ConsentStatus, DataRecord
from matching.models import Loan
from monitoring.signals import GRADE_VALUES, Panel

# Months of data before disbursement a 贷后监测 consent asks for: the same 3 months last year need 14
# months of history before the first month evaluated, the peers' comparison a few more.
HISTORY_MONITORING_MONTHS = 24


@dataclass(frozen=True)
class MonitoredLoan:
    loan: Loan
    consent: Consent


def monthly_instalment(amount: Decimal, annual_rate_pct: Decimal, term_months: int) -> float:
    """The equal monthly instalment (等额本息) of a loan, in yuan: what the balance must cover."""
    principal, rate = float(amount), float(annual_rate_pct) / 1200.0
    if term_months <= 0:
        return principal
    if rate <= 0:
        return principal / term_months
    return principal * rate / (1.0 - (1.0 + rate) ** -term_months)


def monitoring_consents(
    session: Session, borrower_ids: Iterable[int], *, status: ConsentStatus = ConsentStatus.ACTIVE
) -> dict[int, list[Consent]]:
    """Each borrower's unexpired 贷后监测 consents in this status (active: the ones monitoring uses),
    newest first (one query)."""
    ids = sorted(set(borrower_ids))
    found: dict[int, list[Consent]] = {}
    if not ids:
        return found
    today = local_today()
    rows = session.scalars(
        select(Consent)
        .where(
            Consent.borrower_id.in_(ids),
            Consent.purpose_code == ConsentPurpose.MONITORING,
            Consent.status == status,
        )
        .order_by(Consent.id.desc())
    )
    for consent in rows:
        if effective_status(consent, today) == status:
            found.setdefault(consent.borrower_id, []).append(consent)
    return found


def consent_for_loan(consents: Sequence[Consent], loan: Loan) -> Consent | None:
    """The newest of these monitoring consents whose recipients include the loan's institution."""
    return next((c for c in consents if not c.recipient_ids or loan.institution_id in c.recipient_ids), None)


def monitored(session: Session, loans: Sequence[Loan]) -> list[MonitoredLoan]:
    """The loans among these that are monitored, each with the consent that covers it."""
    consents = monitoring_consents(session, (loan.borrower_id for loan in loans))
    result = []
    for loan in loans:
        consent = consent_for_loan(consents.get(loan.borrower_id, []), loan)
        if consent is not None:
            result.append(MonitoredLoan(loan, consent))
    return result


def peer_loans(session: Session, loan: Loan) -> list[Loan]:
    """Disbursed loans of the same county and industry section as this one (itself included)."""
    return list(
        session.scalars(
            select(Loan)
            .where(Loan.region_code == loan.region_code, Loan.industry_section == loan.industry_section)
            .order_by(Loan.id)
        )
    )


@dataclass(frozen=True)
class LoadedPanel:
    panel: Panel
    loans: list[MonitoredLoan]
    first_period: str
    periods: list[str]
    last_period: dict[int, str]  # loan id -> latest consented data month
    used: dict[int, set[str]]  # consent id -> sources read


def load_panel(session: Session, loans: Sequence[MonitoredLoan]) -> LoadedPanel:
    """The panel of these monitored loans over every month any of them has consented data for."""
    borrower_ids = sorted({m.loan.borrower_id for m in loans})
    records: list[DataRecord] = []
    for start in range(0, len(borrower_ids), 500):
        records.extend(
            session.scalars(
                select(DataRecord).where(DataRecord.borrower_id.in_(borrower_ids[start : start + 500]))
            )
        )
    consents = {m.loan.borrower_id: m.consent for m in loans}
    kept = [
        r for r in records if consent_for_record([consents[r.borrower_id]], r.source, r.period) is not None
    ]
    today_index = period_index(f"{local_today():%Y-%m}")
    first = min((period_index(r.period) for r in kept), default=today_index)
    last = max((period_index(r.period) for r in kept), default=today_index)
    months = last - first + 1
    panel = Panel.empty(len(loans), months)
    rows_of: dict[int, list[int]] = {}
    groups: dict[tuple[str, str | None], int] = {}
    for row, m in enumerate(loans):
        rows_of.setdefault(m.loan.borrower_id, []).append(row)
        panel.group[row] = groups.setdefault((m.loan.region_code, m.loan.industry_section), len(groups))
        panel.instalment[row] = monthly_instalment(m.loan.amount, m.loan.rate, m.loan.term_months)
    latest: dict[int, str] = {}
    used: dict[int, set[str]] = {}
    for record in kept:
        col = period_index(record.period) - first
        for row in rows_of[record.borrower_id]:
            _fill(panel, row, col, record)
        used.setdefault(consents[record.borrower_id].id, set()).add(record.source)
        latest[record.borrower_id] = max(latest.get(record.borrower_id, record.period), record.period)
    last_period = {m.loan.id: latest[m.loan.borrower_id] for m in loans if m.loan.borrower_id in latest}
    return LoadedPanel(
        panel=panel,
        loans=list(loans),
        first_period=period_label(first),
        periods=[period_label(first + i) for i in range(months)],
        last_period=last_period,
        used=used,
    )


def _number(value: Decimal | None) -> float:
    return np.nan if value is None else float(value)


def _fill(panel: Panel, row: int, col: int, record: DataRecord) -> None:
    if record.source == "electricity":
        panel.kwh[row, col] = _number(record.kwh)
        if record.bill_overdue is not None:
            panel.bill_overdue[row, col] = float(record.bill_overdue)
    elif record.source == "tax":
        panel.sales[row, col] = _number(record.sales)
        panel.grade[row, col] = GRADE_VALUES.get(record.credit_rating or "", np.nan)
        if record.arrears is not None:
            panel.arrears[row, col] = float(record.arrears)
    elif record.source == "bank_flow":
        panel.inflow[row, col] = _number(record.inflow)
        panel.balance[row, col] = _number(record.end_balance)
