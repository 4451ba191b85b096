"""Financing needs, the leads they are pushed as, and the loans leads end in."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    column,
    event,
    false,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from core.db import Base
from core.sql import duration_us
from core.types import MONEY, RATE, UTCDateTime, utcnow
from credit_profile.models import Borrower, industry_section_sql


class NeedStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    IN_PROGRESS = "in_progress"
    DISBURSED = "disbursed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class LeadStatus(enum.StrEnum):
    PUSHED = "pushed"
    CLAIMED = "claimed"
    CONTACTED = "contacted"
    APPROVED = "approved"
    DISBURSED = "disbursed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CLOSED = "closed"
    # An officer of the institution turned the lead down before claiming it; the need goes on.
    DECLINED = "declined"


OPEN_LEAD_STATUSES = frozenset(
    {LeadStatus.PUSHED, LeadStatus.CLAIMED, LeadStatus.CONTACTED, LeadStatus.APPROVED}
)
FINAL_NEED_STATUSES = frozenset({NeedStatus.DISBURSED, NeedStatus.REJECTED, NeedStatus.WITHDRAWN})


# The statistics read a window of needs, leads and loans by date (stats.statements). These indexes carry
# every column those queries read, so a window is an index-only scan of narrow, date-ordered tuples
# instead of a visit to each wide row (PostgreSQL; other dialects index the date alone).
BORROWER_COPY_COLUMNS = ("region_code", "borrower_kind", "industry_section")
NEED_WINDOW_COLUMNS = (
    "id", "borrower_id", "amount", "is_renewal", "status", *BORROWER_COPY_COLUMNS,
    "contacted_at", "approved_at",
)  # fmt: skip
LEAD_WINDOW_COLUMNS = (
    "id", "need_id", "borrower_id", "institution_id", "product_id", "status", "claimed_at", "sla_due_at",
    "claim_us", *BORROWER_COPY_COLUMNS, "contacted_at", "approved_at", "decided_at",
)  # fmt: skip
# The first time a lead of the need (needs) or the lead itself (leads) reached a step, as its status
# events record it: written by the database when a lead's event is inserted (a trigger on status_events,
# created by revision 1f3b5d7a9c2e; events are append-only), so they can never disagree with the events.
# The funnel and the institutions' board read these instead of probing the events for every row.
LOAN_WINDOW_COLUMNS = (
    "id", "borrower_id", "institution_id", "product_id", "amount", "rate", "collateral",
    "first_loan_borrower", "renewal_without_repayment", *BORROWER_COPY_COLUMNS,
)  # fmt: skip


class BorrowerCopy:
    """The borrower's attributes the statistics filter and group by (county, kind, industry), copied
    onto each need, lead and loan so that a window of them is grouped without joining the borrowers.

    The database keeps every copy equal to the borrower's: a foreign key on (borrower_id, region_code,
    borrower_kind, industry_code) to the borrower's unique key of the same columns (`borrower_key`),
    ON UPDATE CASCADE, so a row whose copy differs cannot be written, and a change to the borrower is
    carried to all of its rows in the same statement. `industry_section` is computed from the copied
    code by the database (as the borrower's own is). Filled from the borrower when a row is inserted
    without them (`copy_borrower`).
    """

    region_code: Mapped[str] = mapped_column(String(6))
    borrower_kind: Mapped[str] = mapped_column(String(24))
    industry_code: Mapped[str] = mapped_column(String(8))
    industry_section: Mapped[str | None] = mapped_column(
        String(1), Computed(industry_section_sql(column("industry_code")), persisted=True)
    )


def borrower_key() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["borrower_id", "region_code", "borrower_kind", "industry_code"],
        ["borrowers.id", "borrowers.region_code", "borrowers.kind", "borrowers.industry_code"],
        onupdate="CASCADE",
    )


class Need(BorrowerCopy, Base):
    __tablename__ = "needs"
    __table_args__ = (
        Index("ix_needs_submitted_at_covering", "submitted_at", postgresql_include=NEED_WINDOW_COLUMNS),
        borrower_key(),
        # The target of the leads' (need_id, borrower_id) foreign key.
        UniqueConstraint("id", "borrower_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    term_months: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(500))
    collateral: Mapped[str] = mapped_column(String(16))
    declared_prior_loan: Mapped[bool]
    is_renewal: Mapped[bool] = mapped_column(default=False)
    renewal_institution_code: Mapped[str | None] = mapped_column(String(32))
    renewal_current_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    renewal_matures_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(16), default=NeedStatus.SUBMITTED, index=True)
    dispatch_round: Mapped[int] = mapped_column(default=0)
    # Set once DISPATCH_MAX_ROUNDS rounds passed without a lead in hand: every eligible institution
    # gets the need, not only the best DISPATCH_TOP_N.
    open_to_all: Mapped[bool] = mapped_column(default=False, server_default=false())
    # First 'contacted' and 'approved' event of any of its leads (see NEED_WINDOW_COLUMNS).
    contacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    match_summary: Mapped[dict[str, Any] | None]
    # The product the applicant applied for ("申请此产品"): the first round pushes to it first.
    requested_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    leads: Mapped[list[Lead]] = relationship(
        back_populates="need", order_by="Lead.id", foreign_keys="Lead.need_id"
    )


class Lead(BorrowerCopy, Base):
    __tablename__ = "leads"
    # One lead per (need, institution), ever: the database, not Python, guarantees it.
    __table_args__ = (
        UniqueConstraint("need_id", "institution_id"),
        # The lead's borrower is its need's (denormalised so that the statistics reach the borrower
        # without joining needs): the database, not Python, keeps the two equal.
        ForeignKeyConstraint(
            ["need_id", "borrower_id"],
            ["needs.id", "needs.borrower_id"],
            name="fk_leads_need_id_borrower_id_needs",
        ),
        Index("ix_leads_institution_status", "institution_id", "status"),
        Index("ix_leads_pushed_at_covering", "pushed_at", postgresql_include=LEAD_WINDOW_COLUMNS),
        borrower_key(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    borrower_id: Mapped[int]
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.PUSHED)
    dispatch_round: Mapped[int] = mapped_column(default=1)
    rank: Mapped[int] = mapped_column(default=1)
    explanation: Mapped[dict[str, Any] | None]
    pushed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sla_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Whole microseconds from push to claim (NULL until claimed), computed and stored by the database
    # whenever either time is written, so it can never disagree with them. The statistics sort this
    # narrow integer for the median time to claim instead of computing it from two timestamps per row.
    claim_us: Mapped[int | None] = mapped_column(
        BigInteger, Computed(duration_us(column("claimed_at"), column("pushed_at")), persisted=True)
    )
    # First 'contacted', first 'approved', and first 'approved' or 'rejected' event (the decision) of
    # the lead (see NEED_WINDOW_COLUMNS).
    contacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The time of the last status change (the follow-up clock starts here).
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the stale sweep flagged a claimed lead left without progress; cleared by any status change.
    stale_flagged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)

    need: Mapped[Need] = relationship(back_populates="leads", foreign_keys=[need_id])


class Loan(BorrowerCopy, Base):
    __tablename__ = "loans"
    __table_args__ = (
        Index("ix_loans_disbursed_on_covering", "disbursed_on", postgresql_include=LOAN_WINDOW_COLUMNS),
        borrower_key(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), unique=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    rate: Mapped[Decimal] = mapped_column(RATE)
    term_months: Mapped[int]
    collateral: Mapped[str] = mapped_column(String(16))
    disbursed_on: Mapped[dt.date]
    first_loan_borrower: Mapped[bool]
    renewal_without_repayment: Mapped[bool]
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class LoanPerformance(Base):
    """A lender's report on a disbursed loan: has it ever been 30 or 90 days past due by ``as_of``.

    Reports are never changed: a later report for the same ``as_of`` corrects an earlier one.
    """

    __tablename__ = "loan_performance"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    as_of: Mapped[dt.date]
    overdue_30: Mapped[bool]
    overdue_90: Mapped[bool]
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AlertKind(enum.StrEnum):
    OPEN_TO_ALL = "open_to_all"
    # Every eligible institution has been tried before the last round: nobody is left to serve it.
    NO_INSTITUTIONS = "no_institutions"


class Alert(Base):
    """Something a finance office should look at, in the borrower's county (e.g. a need nobody claims)."""

    __tablename__ = "alerts"
    # One alert of a kind per need, ever.
    __table_args__ = (UniqueConstraint("kind", "need_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    data: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


def copy_borrower(_mapper: Mapper[Any], connection: Connection, target: BorrowerCopy) -> None:
    """Fill a new row's copy of its borrower's attributes (BorrowerCopy) when it was not given: one
    indexed read in the flush. A wrong or stale copy is refused by the foreign key, never stored."""
    if None in (target.region_code, target.borrower_kind, target.industry_code):
        row = connection.execute(
            select(Borrower.region_code, Borrower.kind, Borrower.industry_code).where(
                Borrower.id == target.borrower_id  # type: ignore[attr-defined]
            )
        ).one_or_none()
        if row is not None:
            target.region_code, target.borrower_kind, target.industry_code = row


for _model in (Need, Lead, Loan):
    event.listen(_model, "before_insert", copy_borrower)
