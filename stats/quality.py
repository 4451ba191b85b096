"""Data-quality flags: loans whose reported details look wrong, so that the office can ask the bank before
the figures go out. A flagged loan still counts in every figure; the flag only says "check this".

- amount_outlier: the loan is more than OUTLIER_FACTOR times the amount the borrower asked for;
- above_product_max: the loan is above its product's maximum;
- same_minute: the lead was claimed and approved within the same minute (steps recorded after the fact);
- first_loan_conflict: declared 首贷 for a borrower with an earlier loan on the platform, or who declared
  a prior loan when applying;
- renewal_conflict: declared 无还本续贷 on a need that was not a renewal request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.masking import Personal, mask
from core.sql import duration_us
from credit_profile.models import Borrower, BorrowerKind
from matching.models import Lead, Loan, Need
from products.models import Institution, Product
from stats.windows import Window, in_region

OUTLIER_FACTOR = 2
SAME_MINUTE_US = 60_000_000
FLAG_LABELS: dict[str, str] = {
    "amount_outlier": "放款金额超过申请金额 2 倍",
    "above_product_max": "放款金额高于产品最高额度",
    "same_minute": "认领与审批在同一分钟内登记",
    "first_loan_conflict": "填报首贷户，但该户此前已有贷款",
    "renewal_conflict": "填报无还本续贷，但申请时不是续贷",
}
FLAGS = tuple(FLAG_LABELS)
MAX_FLAGGED_ROWS = 500


@dataclass(frozen=True)
class FlaggedLoan:
    loan_id: int
    need_id: int
    disbursed_on: dt.date
    borrower: str
    region_code: str
    institution: str
    product: str
    amount: Decimal
    need_amount: Decimal
    product_max: Decimal
    flags: tuple[str, ...]


def _conditions() -> dict[str, Any]:
    earlier = aliased(Loan)
    prior_loan = exists().where(
        earlier.borrower_id == Loan.borrower_id,
        or_(
            earlier.disbursed_on < Loan.disbursed_on,
            and_(earlier.disbursed_on == Loan.disbursed_on, earlier.id < Loan.id),
        ),
    )
    return {
        "amount_outlier": Loan.amount > Need.amount * OUTLIER_FACTOR,
        "above_product_max": Loan.amount > Product.max_amount,
        "same_minute": and_(
            Lead.approved_at.is_not(None), duration_us(Lead.approved_at, Lead.claimed_at) < SAME_MINUTE_US
        ),
        "first_loan_conflict": and_(
            Loan.first_loan_borrower.is_(True), or_(Need.declared_prior_loan.is_(True), prior_loan)
        ),
        "renewal_conflict": and_(Loan.renewal_without_repayment.is_(True), Need.is_renewal.is_(False)),
    }


def flagged_loans(
    session: Session, window: Window, *, flag: str | None = None, limit: int = MAX_FLAGGED_ROWS
) -> tuple[list[FlaggedLoan], dict[str, int]]:
    """The window's flagged loans (newest first, at most `limit`; with `flag`, only those carrying it),
    and the count of loans per flag over the whole window. Raises ValueError for an unknown flag."""
    if flag is not None and flag not in FLAG_LABELS:
        raise ValueError(flag)
    conditions = _conditions()
    marks = [case((condition, 1), else_=0).label(name) for name, condition in conditions.items()]
    stmt = (
        select(
            Loan.id,
            Loan.need_id,
            Loan.disbursed_on,
            Loan.amount,
            Need.amount,
            Product.max_amount,
            Product.name,
            Institution.name,
            Borrower.name,
            Borrower.kind,
            Borrower.region_code,
            *marks,
        )
        .join(Need, Need.id == Loan.need_id)
        .join(Lead, Lead.id == Loan.lead_id)
        .join(Product, Product.id == Loan.product_id)
        .join(Institution, Institution.id == Loan.institution_id)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(
            Loan.disbursed_on >= window.first,
            Loan.disbursed_on <= window.last,
            *in_region(window, Loan),
            or_(*conditions.values()),
        )
    )
    counts_stmt = stmt.with_only_columns(*[func.coalesce(func.sum(mark), 0) for mark in marks])
    counts = dict(zip(FLAGS, (int(n) for n in session.execute(counts_stmt).one()), strict=True))
    if flag:
        stmt = stmt.where(conditions[flag])
    rows = session.execute(stmt.order_by(Loan.disbursed_on.desc(), Loan.id.desc()).limit(limit)).all()
    result = []
    for row in rows:
        values: tuple[Any, ...] = tuple(row)
        (loan_id, need_id, disbursed_on, amount, need_amount, product_max, product, institution, name, kind,
         region) = values[:11]  # fmt: skip
        result.append(
            FlaggedLoan(
                loan_id=loan_id,
                need_id=need_id,
                disbursed_on=disbursed_on,
                borrower=(mask(Personal.NAME, name) if kind == BorrowerKind.FARMER.value else name) or "",
                region_code=region,
                institution=institution,
                product=product,
                amount=amount,
                need_amount=need_amount,
                product_max=product_max,
                flags=tuple(f for f, mark in zip(FLAGS, values[11:], strict=True) if mark),
            )
        )
    return result, counts
