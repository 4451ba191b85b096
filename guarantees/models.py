"""Schemes (guarantee, re-guarantee, compensation fund, bridge fund), covers on loans, their defaults,
compensation payments and recoveries, and bridge applications.

A scheme's loss shares and fee tiers are data (JSON of decimal strings), read by the pure modules
`waterfall` and `fees`. Amounts are yuan (`Decimal`, to the fen).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.types import MONEY, UTCDateTime, utcnow

# Rates kept as fractions (0.0002 per day, 0.0100 a year, 0.4000 of a loss).
FRACTION = Numeric(9, 6)


class SchemeKind(enum.StrEnum):
    GUARANTEE = "guarantee"
    REGUARANTEE = "reguarantee"
    COMPENSATION_FUND = "compensation_fund"
    BRIDGE_FUND = "bridge_fund"


class SchemeStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Party(enum.StrEnum):
    """Who bears a share of a covered loss."""

    BANK = "bank"
    GUARANTOR = "guarantor"
    REGUARANTOR = "reguarantor"
    FUND = "fund"
    GOVERNMENT = "government"


class Scheme(Base):
    __tablename__ = "guarantee_schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    sponsor: Mapped[str] = mapped_column(String(128))
    # {"province": "0.5", "city": "0.2", "county": "0.3"}
    funding_shares: Mapped[dict[str, Any]]
    # The guarantee company, re-guarantor, fund manager or bridge-fund operator whose staff work the queue.
    operator_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    # Net assets (guarantee), fund size (compensation / bridge fund) or yearly budget commitment.
    capital: Mapped[Decimal] = mapped_column(MONEY)
    leverage_limit: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    # {"bank": "0.20", "guarantor": "0.40", ...}: shares of a covered loss, summing to 1.
    loss_shares: Mapped[dict[str, Any]]
    # [{"up_to_months": 36, "shares": {...}}, ...]: loss shares by tenor band, the first band that fits.
    tenor_bands: Mapped[list[dict[str, Any]]]
    covers_interest: Mapped[bool] = mapped_column(default=False)
    fee_rate_cap: Mapped[Decimal] = mapped_column(FRACTION)
    single_cap: Mapped[Decimal] = mapped_column(MONEY)
    # Share of a bank's covered amount under the scheme beyond which the guarantee side pays no more.
    comp_cap_rate: Mapped[Decimal] = mapped_column(FRACTION)
    filing_deadline_days: Mapped[int]
    claim_deadline_days: Mapped[int]
    decision_sla_hours: Mapped[int] = mapped_column(default=48)
    # {"region_codes": [...], "borrower_kinds": [...], "industries_excluded": [...], "tags": [...]}
    eligibility: Mapped[dict[str, Any]]
    # Bridge funds: share of the committed renewal, longest use, fee tiers, pause at this overdue share.
    bridge_max_ratio: Mapped[Decimal | None] = mapped_column(FRACTION)
    bridge_max_days: Mapped[int | None]
    # [{"up_to_day": 5, "daily_rate": "0.0002"}, {"up_to_day": null, "daily_rate": "0.0004"}]
    fee_tiers: Mapped[list[dict[str, Any]]]
    pause_overdue_ratio: Mapped[Decimal | None] = mapped_column(FRACTION)
    status: Mapped[str] = mapped_column(String(16), default=SchemeStatus.ACTIVE)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Paused by a pause rule (not by hand): the rule resumes it once the cause is gone.
    paused_by_rule: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SchemeProduct(Base):
    """A product the scheme covers (shown as 政府性担保 / 风险补偿 in the supermarket)."""

    __tablename__ = "guarantee_scheme_products"
    __table_args__ = (UniqueConstraint("scheme_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("guarantee_schemes.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)


class CoverStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    ACTIVE = "active"
    RELEASED = "released"
    DEFAULTED = "defaulted"
    CLOSED = "closed"


class Cover(Base):
    """A guarantee or compensation cover on one lead's loan under a scheme."""

    __tablename__ = "guarantee_covers"
    __table_args__ = (
        UniqueConstraint("lead_id"),
        Index("ix_guarantee_covers_operator_status", "operator_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("guarantee_schemes.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    term_months: Mapped[int]
    fee_rate: Mapped[Decimal] = mapped_column(FRACTION)
    status: Mapped[str] = mapped_column(String(16), default=CoverStatus.REQUESTED, index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decision_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    activated_on: Mapped[dt.date | None]
    matures_on: Mapped[dt.date | None]
    filing_due_on: Mapped[dt.date | None]
    filed_on: Mapped[dt.date | None]
    filing_batch: Mapped[str | None] = mapped_column(String(32))
    released_on: Mapped[dt.date | None]
    defaulted_on: Mapped[dt.date | None]


class DefaultReport(Base):
    """The bank's 事故报告: the figures of a covered loan's default and the waterfall computed from them."""

    __tablename__ = "guarantee_defaults"

    id: Mapped[int] = mapped_column(primary_key=True)
    cover_id: Mapped[int] = mapped_column(ForeignKey("guarantee_covers.id"), unique=True)
    overdue_since: Mapped[dt.date]
    principal: Mapped[Decimal] = mapped_column(MONEY)
    interest: Mapped[Decimal] = mapped_column(MONEY)
    collateral_realised: Mapped[Decimal] = mapped_column(MONEY)
    loss: Mapped[Decimal] = mapped_column(MONEY)
    # {party: "amount"}: each party's share of the loss, as the waterfall computed it.
    shares: Mapped[dict[str, Any]]
    # The arithmetic, line by line, as shown on the cover's page.
    workings: Mapped[list[dict[str, Any]]]
    claim_due_on: Mapped[dt.date]
    reported_on: Mapped[dt.date]
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Compensation(Base):
    """What one party owes on a default (代偿 by the guarantor, a claim on a re-guarantor or fund) and
    when it was claimed and paid."""

    __tablename__ = "guarantee_compensations"
    __table_args__ = (UniqueConstraint("default_id", "party"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    default_id: Mapped[int] = mapped_column(ForeignKey("guarantee_defaults.id"))
    party: Mapped[str] = mapped_column(String(16))
    # `compensation`: the primary payer's 代偿 to the bank; `claim`: a party above it reimbursing it.
    kind: Mapped[str] = mapped_column(String(12))
    amount_due: Mapped[Decimal] = mapped_column(MONEY)
    claimed_on: Mapped[dt.date]
    amount_paid: Mapped[Decimal | None] = mapped_column(MONEY)
    paid_on: Mapped[dt.date | None]
    paid_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Recovery(Base):
    """Money recovered from the borrower after a default, returned to each party pro rata."""

    __tablename__ = "guarantee_recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    default_id: Mapped[int] = mapped_column(ForeignKey("guarantee_defaults.id"), index=True)
    recovered_on: Mapped[dt.date]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    method: Mapped[str] = mapped_column(String(24))
    # {party: "amount"} returned to each payer.
    split: Mapped[dict[str, Any]]
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class BridgeStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    COMMITTED = "committed"
    APPROVED = "approved"
    DISBURSED = "disbursed"
    OLD_LOAN_REPAID = "old_loan_repaid"
    RENEWAL_DISBURSED = "renewal_disbursed"
    RETURNED = "returned"
    OVERDUE = "overdue"
    BANK_BREACH = "bank_breach"
    REFUSED = "refused"


class BridgeApplication(Base):
    """A bridge (续贷周转金) for a maturing loan: the bank's commitment, and each dated step."""

    __tablename__ = "bridge_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("guarantee_schemes.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    contract_no: Mapped[str] = mapped_column(String(64))
    maturing_principal: Mapped[Decimal] = mapped_column(MONEY)
    matures_on: Mapped[dt.date]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(20), default=BridgeStatus.SUBMITTED, index=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    commitment_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    commitment_date: Mapped[dt.date | None]
    commitment_signer: Mapped[str | None] = mapped_column(String(64))
    commitment_doc_hash: Mapped[str | None] = mapped_column(String(64))
    commitment_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_on: Mapped[dt.date | None]
    disbursed_on: Mapped[dt.date | None]
    due_on: Mapped[dt.date | None]
    old_loan_repaid_on: Mapped[dt.date | None]
    renewal_disbursed_on: Mapped[dt.date | None]
    renewal_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    returned_on: Mapped[dt.date | None]
    days_used: Mapped[int | None]
    fee: Mapped[Decimal | None] = mapped_column(MONEY)
    overdue_on: Mapped[dt.date | None]
    breach_on: Mapped[dt.date | None]
    reason: Mapped[str | None] = mapped_column(Text)
