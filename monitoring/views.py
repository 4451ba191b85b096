"""Read models of warnings: what an officer sees of their institution's warnings, as frozen dataclasses,
one query per list, paged in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credit_profile.models import Borrower
from matching.models import Loan
from monitoring.errors import WarningNotFoundError
from monitoring.models import EarlyWarning, WarningStatus


@dataclass(frozen=True)
class WarningView:
    id: int
    loan_id: int
    borrower_name: str
    region_code: str
    industry_code: str
    amount: Decimal
    disbursed_on: dt.date
    level: str
    status: str
    period: str
    rule_codes: list[str]
    evidence: list[dict[str, Any]]
    opened_at: dt.datetime
    ack_due_at: dt.datetime
    acknowledged_at: dt.datetime | None
    escalated_at: dt.datetime | None
    action: str | None
    action_note: str | None
    outcome: str | None
    closed_at: dt.datetime | None
    mine: bool


def _view(warning: EarlyWarning, loan: Loan, name: str, officer_id: int | None) -> WarningView:
    return WarningView(
        id=warning.id,
        loan_id=warning.loan_id,
        borrower_name=name,
        region_code=warning.region_code,
        industry_code=loan.industry_code,
        amount=loan.amount,
        disbursed_on=loan.disbursed_on,
        level=warning.level,
        status=warning.status,
        period=warning.period,
        rule_codes=list(warning.rule_codes),
        evidence=list(warning.evidence),
        opened_at=warning.opened_at,
        ack_due_at=warning.ack_due_at,
        acknowledged_at=warning.acknowledged_at,
        escalated_at=warning.escalated_at,
        action=warning.action,
        action_note=warning.action_note,
        outcome=warning.outcome,
        closed_at=warning.closed_at,
        mine=officer_id is not None and warning.officer_id == officer_id,
    )


def officer_warnings(
    session: Session,
    *,
    institution_id: int,
    officer_id: int,
    status: str | None = None,
    level: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[WarningView], int]:
    """The institution's warnings, open ones first (red before yellow), newest first, and the total."""
    where = [EarlyWarning.institution_id == institution_id]
    if status:
        where.append(EarlyWarning.status == status)
    if level:
        where.append(EarlyWarning.level == level)
    total = session.scalar(select(func.count()).select_from(EarlyWarning).where(*where)) or 0
    rows = session.execute(
        select(EarlyWarning, Loan, Borrower.name)
        .join(Loan, Loan.id == EarlyWarning.loan_id)
        .join(Borrower, Borrower.id == EarlyWarning.borrower_id)
        .where(*where)
        .order_by(
            (EarlyWarning.status == WarningStatus.CLOSED).asc(),
            (EarlyWarning.level == "red").desc(),
            EarlyWarning.id.desc(),
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [_view(w, loan, name, officer_id) for w, loan, name in rows], total


def officer_warning(
    session: Session, warning_id: int, *, institution_id: int, officer_id: int
) -> WarningView:
    """One warning of the institution. Raises WarningNotFoundError (also for another institution's)."""
    row = session.execute(
        select(EarlyWarning, Loan, Borrower.name)
        .join(Loan, Loan.id == EarlyWarning.loan_id)
        .join(Borrower, Borrower.id == EarlyWarning.borrower_id)
        .where(EarlyWarning.id == warning_id, EarlyWarning.institution_id == institution_id)
    ).one_or_none()
    if row is None:
        raise WarningNotFoundError(str(warning_id))
    warning, loan, name = row
    return _view(warning, loan, name, officer_id)
