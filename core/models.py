"""Accounts, authentication sessions, the status-event audit trail and the job outbox."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.types import EncryptedText, UTCDateTime, utcnow


class Role(enum.StrEnum):
    APPLICANT = "applicant"
    OFFICER = "officer"
    PRODUCT_MANAGER = "product_manager"
    FINANCE = "finance"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    # Institutions and borrowers live in other packages; the kernel refers to them by table name only.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6))
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuthSession(Base):
    """A web login or an API token; revoking the row ends it server-side."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StatusEvent(Base):
    """One row per status change of any entity: who, when, from, to, note.

    Append-only and hash-chained (core.audit): when the transaction that wrote a row commits, the row
    gets the next `chain_seq`, the previous row's hash as `prev_hash`, and `hash` over its own content
    and `prev_hash`. `flask --app wsgi audit verify` recomputes the chain and finds edited or deleted rows.
    """

    __tablename__ = "status_events"
    __table_args__ = (Index("ix_status_events_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int]
    need_id: Mapped[int | None] = mapped_column(index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    chain_seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class OutboxJob(Base):
    """A job written in the same transaction as the change that needs it, relayed to rq after commit."""

    __tablename__ = "outbox_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    dedup_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
