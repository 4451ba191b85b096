"""What an applicant may ask a bridge for: their renewal needs and their platform loans not yet matured,
with the bank and the maturity each names; and the bridge funds open to applications."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.sql import add_months_py
from core.types import local_today
from guarantees.models import Scheme, SchemeKind, SchemeStatus
from matching.models import Loan, Need
from products.models import Institution


@dataclass(frozen=True)
class MaturingLoan:
    """A loan the applicant may bridge: `origin` is `need:<id>` or `loan:<id>`."""

    origin: str
    bank_name: str
    principal: Decimal | None
    matures_on: dt.date | None


def maturing_loans(session: Session, borrower_id: int) -> list[MaturingLoan]:
    """The borrower's renewal needs and platform loans maturing today or later, soonest first."""
    today = local_today()
    names = dict(session.execute(select(Institution.code, Institution.name)).all())
    bank_names = dict(session.execute(select(Institution.id, Institution.name)).all())
    found = [
        MaturingLoan(
            f"need:{need.id}",
            names.get(need.renewal_institution_code or "", need.renewal_institution_code or ""),
            need.renewal_current_amount,
            need.renewal_matures_on,
        )
        for need in session.scalars(
            select(Need).where(Need.borrower_id == borrower_id, Need.is_renewal.is_(True)).order_by(Need.id)
        )
        if need.renewal_matures_on is None or need.renewal_matures_on >= today
    ]
    for loan in session.scalars(select(Loan).where(Loan.borrower_id == borrower_id).order_by(Loan.id)):
        matures_on = add_months_py(loan.disbursed_on, loan.term_months)
        if matures_on >= today:
            found.append(
                MaturingLoan(
                    f"loan:{loan.id}", bank_names.get(loan.institution_id, ""), loan.amount, matures_on
                )
            )
    return sorted(found, key=lambda m: (m.matures_on or dt.date.max, m.origin))


def bridge_funds(session: Session) -> list[Scheme]:
    """Every bridge fund, open ones first (a paused one is listed with its reason, not offered)."""
    funds = session.scalars(select(Scheme).where(Scheme.kind == SchemeKind.BRIDGE_FUND).order_by(Scheme.id))
    return sorted(funds, key=lambda s: s.status != SchemeStatus.ACTIVE)
