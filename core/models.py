"""Accounts, authentication sessions, the status-event audit trail and the job outbox."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, validates

from core.db import Base
from core.types import EncryptedText, UTCDateTime, utcnow
from core.usernames import casefold_username


class Role(enum.StrEnum):
    APPLICANT = "applicant"
    OFFICER = "officer"
    PRODUCT_MANAGER = "product_manager"
    FINANCE = "finance"
    ADMIN = "admin"
    # Staff of a guarantee company, re-guarantor or fund operator (guarantees package).
    GUARANTOR = "guarantor"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # The name two usernames are compared by (NFKC, casefolded; core.usernames.casefold_username), kept
    # with every write of `username`: its unique index refuses `Alice` beside `alice` even when two
    # sign-ups race past the service's check.
    username_key: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    # Encrypted at rest; `User.phone == number` matches through the keyed blind index (password reset).
    phone: Mapped[str | None] = mapped_column(EncryptedText(index="phone_index"))
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # Institutions and borrowers live in other packages; the kernel refers to them by table name only.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6))
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An applicant signs in once the code sent to their phone came back (core.verification); staff
    # accounts and accounts older than verification are verified.
    phone_verified: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Set by an administrator's password reset: the temporary password must be changed at sign-in.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Consecutive failed sign-ins, and the end of the lock they led to (core.accounts.authenticate).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @validates("username")
    def _keep_username_key(self, _key: str, value: str) -> str:
        self.username_key = casefold_username(value)
        return value


class VerificationCode(Base):
    """A 6-digit code sent by SMS: to verify a phone at registration, or to reset a password.

    Only its hash is stored; it expires, allows a few tries, and works once.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_user_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class FormSubmission(Base):
    """A form that created something, by a digest of who sent what where (core.submissions): the same
    submission again within the window (a refresh, a double click) finds the row and creates nothing."""

    __tablename__ = "form_submissions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


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
    # Set when the job ran to the end; a row handed over long ago and never completed is handed over again.
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Notification(Base):
    """An in-app message for one user; `kind` and `data` say what happened, the portal words it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("status_events.id"))
    need_id: Mapped[int | None]
    lead_id: Mapped[int | None]
    data: Mapped[dict[str, Any] | None]
    # Reminders that must go out once carry a key; the database refuses a second one.
    dedup_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutgoingMessage(Base):
    """An SMS or e-mail written in the transaction that needs it and delivered by a job (an outbox)."""

    __tablename__ = "outgoing_messages"
    __table_args__ = (UniqueConstraint("dedup_key"), Index("ix_outgoing_messages_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    # Encrypted at rest like every phone number (an applicant is texted at registration).
    to: Mapped[str] = mapped_column(EncryptedText())
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dedup_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
