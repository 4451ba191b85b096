"""Monitoring rules, the signals computed per loan and month, early warnings and what officers did."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, JsonType
from core.types import UTCDateTime, utcnow

RATIO = Numeric(12, 4)


class Level(enum.StrEnum):
    YELLOW = "yellow"
    RED = "red"


class WarningStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ACTIONED = "actioned"
    CLOSED = "closed"


class WarningAction(enum.StrEnum):
    CONTACTED = "contacted"
    SITE_VISIT = "site_visit"
    RESTRUCTURED = "restructured"
    NO_ISSUE = "no_issue"
    ESCALATED = "escalated"


class WarningOutcome(enum.StrEnum):
    RESOLVED = "resolved"
    ESCALATED_TO_DEFAULT = "escalated_to_default"
    FALSE_POSITIVE = "false_positive"


class MonitoringRule(Base):
    """A rule as data, maintained by admin (rules.py holds the documented starting set).

    A threshold rule compares one signal with `yellow` and `red` in `direction` ("below": value <=
    threshold fires; "above": value >= threshold); it fires when the condition held in at least
    `persist_months` of the last `window_months` months, and, when `peer_pct_max` is set, only while
    the loan sits at or below that percentile of its industry-county peers (a drop the whole trade
    shares is not the borrower's). A combination rule (`requires` non-empty) fires at `red` when
    every named rule fires at least yellow in the same month.
    """

    __tablename__ = "monitoring_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    signal: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8), default="below")
    yellow: Mapped[Decimal | None] = mapped_column(RATIO)
    red: Mapped[Decimal | None] = mapped_column(RATIO)
    persist_months: Mapped[int] = mapped_column(default=1)
    window_months: Mapped[int] = mapped_column(default=1)
    peer_pct_max: Mapped[Decimal | None] = mapped_column(RATIO)
    requires: Mapped[list[str]] = mapped_column(JsonType, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class MonitoringSignal(Base):
    """One signal of one loan for one data month, its own baseline and its peer percentile. The natural
    key makes a recomputation (a job run twice) replace, never duplicate."""

    __tablename__ = "monitoring_signals"
    __table_args__ = (UniqueConstraint("loan_id", "signal", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    signal: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    baseline: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    peer_pct: Mapped[Decimal | None] = mapped_column(RATIO)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EarlyWarning(Base):
    """An early warning on a loan: opened by the monitoring job, routed to the officer who claimed the
    loan's lead, acknowledged (or escalated to the institution when the deadline passes), actioned and
    closed with an outcome. One warning per loan and data month it was opened for (`period`): the job
    running twice finds it, and a later month that fires again raises an open warning's level instead
    of opening a second one.
    """

    __tablename__ = "early_warnings"
    __table_args__ = (
        UniqueConstraint("loan_id", "period"),
        Index("ix_early_warnings_institution_status", "institution_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    level: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(7))
    rule_codes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=WarningStatus.OPEN)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ack_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    action: Mapped[str | None] = mapped_column(String(16))
    action_note: Mapped[str | None] = mapped_column(Text)
    actioned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(24))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    nudged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
