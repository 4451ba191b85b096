"""Institutions and loan products. A product's eligibility rules are stored as data (JSON lists)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.types import MONEY, RATE, UTCDateTime, utcnow


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    # Off the shelf for a while (a quota used up, a policy under review): back with `resume`.
    PAUSED = "paused"
    RETIRED = "retired"


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A deactivated institution's products are not matched and its staff cannot sign in.
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    min_amount: Mapped[Decimal] = mapped_column(MONEY)
    max_amount: Mapped[Decimal] = mapped_column(MONEY)
    min_term_months: Mapped[int]
    max_term_months: Mapped[int]
    rate_min: Mapped[Decimal] = mapped_column(RATE)
    rate_max: Mapped[Decimal] = mapped_column(RATE)
    collateral: Mapped[list[str]]
    borrower_kinds: Mapped[list[str]]
    region_codes: Mapped[list[str]]
    industries_excluded: Mapped[list[str]]
    min_score: Mapped[int | None]
    tags: Mapped[list[str]]
    sla_hours: Mapped[int] = mapped_column(default=8)
    # Working hours a claimed lead may go without a status change before it is flagged; twice that and
    # it is released to the next institution.
    follow_up_hours: Mapped[int] = mapped_column(default=24, server_default="24")
    status: Mapped[str] = mapped_column(String(16), default=ProductStatus.DRAFT, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    institution: Mapped[Institution] = relationship(lazy="joined")
