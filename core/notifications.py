"""In-app notifications and the SMS / e-mail outbox. Services flush, never commit.

A notification is a row per user, worded by the portal from its `kind` and `data` (or from the status
event it points at). An outgoing message is written in the transaction that needs it and delivered
later by a job through a pluggable sender; delivery claims a row with a conditional UPDATE, so two
workers never send it twice at once, and a row left `sending` by a crashed worker is claimed again
once `STUCK_AFTER` has passed (at-least-once: the sender gets the message id as an idempotency key).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.masking import Personal, mask
from core.models import MessageStatus, Notification, OutgoingMessage
from core.outbox import add_jobs
from core.sql import insert_skipping_conflicts, ordered_insert
from core.types import utcnow

log = logging.getLogger(__name__)

CHANNELS = frozenset({"sms", "email"})
DELIVER_JOB = "deliver_message"
MAX_SEND_ATTEMPTS = 5
STUCK_AFTER = dt.timedelta(minutes=10)


class NotificationNotFoundError(NotFoundError):
    code = "notification_not_found"


def notify(
    session: Session,
    user_ids: Iterable[int],
    *,
    kind: str,
    event_id: int | None = None,
    need_id: int | None = None,
    lead_id: int | None = None,
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> list[Notification]:
    """One notification per distinct user. With `dedup_key` (suffixed with the user id), a user who
    already has that notification gets no second one."""
    created: list[Notification] = []
    for user_id in sorted(set(user_ids)):
        key = f"{dedup_key}:{user_id}" if dedup_key else None
        if key and session.scalar(select(Notification.id).where(Notification.dedup_key == key)):
            continue
        row = Notification(
            user_id=user_id,
            kind=kind,
            event_id=event_id,
            need_id=need_id,
            lead_id=lead_id,
            data=data,
            dedup_key=key,
            created_at=utcnow(),
        )
        session.add(row)
        if key:
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:
                continue
        created.append(row)
    session.flush()
    return created


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification for `add_notifications`: the arguments of `notify` for one user, without a key."""

    user_id: int
    kind: str
    event_id: int | None = None
    need_id: int | None = None
    lead_id: int | None = None
    data: dict[str, Any] | None = None


def add_notifications(session: Session, notifications: Sequence[NewNotification]) -> None:
    """Write the notifications in one INSERT, in the given order: what `notify` writes for each, when
    no deduplication is needed (a batch written for new rows, such as the officers of new leads)."""
    if not notifications:
        return
    now = utcnow()
    rows = [
        {
            "user_id": n.user_id,
            "kind": n.kind,
            "event_id": n.event_id,
            "need_id": n.need_id,
            "lead_id": n.lead_id,
            "data": n.data,
            "dedup_key": None,
            "created_at": now,
        }
        for n in notifications
    ]
    # One statement in the rows' order (core.sql.ordered_insert). On SQLite, RETURNING has SQLAlchemy
    # send them as multi-row INSERTs rather than through the driver's executemany (an INSERT a row), and
    # render_nulls sends a None as NULL, not a column left out: rows with and without a lead in one.
    stmt, params = ordered_insert(session, Notification, rows)
    session.execute(stmt.returning(Notification.id), params, execution_options={"render_nulls": True})


def list_notifications(
    session: Session, user_id: int, *, unread_only: bool = False, limit: int = 20, offset: int = 0
) -> tuple[Sequence[Notification], int]:
    """The user's notifications, newest first, and their total count."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def unread_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, notification_id: int, *, user_id: int) -> Notification:
    """Mark the user's own notification read (idempotent). Raises NotificationNotFoundError."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotificationNotFoundError(str(notification_id))
    if row.read_at is None:
        row.read_at = utcnow()
        session.flush()
    return row


def mark_all_read(session: Session, user_id: int) -> int:
    """Mark every unread notification of the user read; how many were."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- outgoing messages --------------------------------------------------------------------------


def queue_message(
    session: Session, *, channel: str, to: str, body: str, dedup_key: str, user_id: int | None = None
) -> OutgoingMessage | None:
    """Write an SMS or e-mail to the outbox and queue its delivery; None if a message with that key
    was already written. Raises ValueError for an unknown channel.
    """
    ids = queue_messages(
        session, [NewMessage(channel=channel, to=to, body=body, dedup_key=dedup_key, user_id=user_id)]
    )
    return session.get(OutgoingMessage, ids[0]) if ids else None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for `queue_messages`: the arguments of `queue_message`."""

    channel: str
    to: str
    body: str
    dedup_key: str
    user_id: int | None = None


def queue_messages(session: Session, messages: Sequence[NewMessage]) -> list[int]:
    """Write the messages to the outbox and queue their deliveries, set-based: one INSERT of the
    messages, one of their delivery jobs. A message whose key was already written is skipped, as
    `queue_message` skips it. Returns the ids of the messages written, in the given order. Raises
    ValueError for an unknown channel.
    """
    unknown = {m.channel for m in messages} - CHANNELS
    if unknown:
        raise ValueError(f"unknown channel {sorted(unknown)[0]!r}")
    if not messages:
        return []
    now = utcnow()
    written = dict(
        session.execute(
            insert_skipping_conflicts(session, OutgoingMessage, "dedup_key").returning(
                OutgoingMessage.dedup_key, OutgoingMessage.id
            ),
            [
                {
                    "channel": m.channel,
                    "to": m.to,
                    "body": m.body,
                    "user_id": m.user_id,
                    "dedup_key": m.dedup_key,
                    "status": MessageStatus.PENDING,
                    "created_at": now,
                }
                for m in messages
            ],
        ).all()
    )
    ids = [written[m.dedup_key] for m in messages if m.dedup_key in written]
    add_jobs(session, [(DELIVER_JOB, f"{DELIVER_JOB}:{i}", {"message_id": i}) for i in ids])
    return ids


def deliverable_ids(session: Session, *, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Messages waiting to go out: pending ones, and those left `sending` by a worker that died."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(OutgoingMessage.id)
            .where(
                OutgoingMessage.attempts < MAX_SEND_ATTEMPTS,
                or_(
                    OutgoingMessage.status == MessageStatus.PENDING,
                    (OutgoingMessage.status == MessageStatus.SENDING)
                    & (OutgoingMessage.locked_at < now - STUCK_AFTER),
                ),
            )
            .order_by(OutgoingMessage.id)
            .limit(limit)
        )
    )


def claim_message(
    session: Session, message_id: int, *, now: dt.datetime | None = None
) -> OutgoingMessage | None:
    """Take the message for sending (conditional UPDATE); None when it is sent, failed or being sent."""
    now = now or utcnow()
    result = session.execute(
        update(OutgoingMessage)
        .where(
            OutgoingMessage.id == message_id,
            OutgoingMessage.attempts < MAX_SEND_ATTEMPTS,
            or_(
                OutgoingMessage.status == MessageStatus.PENDING,
                (OutgoingMessage.status == MessageStatus.SENDING)
                & (OutgoingMessage.locked_at < now - STUCK_AFTER),
            ),
        )
        .values(status=MessageStatus.SENDING, locked_at=now, attempts=OutgoingMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.get(OutgoingMessage, message_id, populate_existing=True)
    return row


def finish_message(session: Session, message_id: int, *, error: str | None) -> None:
    """Record the outcome of one send: sent, or back to pending (failed after MAX_SEND_ATTEMPTS)."""
    row = session.get(OutgoingMessage, message_id, populate_existing=True)
    if row is None:
        return
    if error is None:
        row.status = MessageStatus.SENT
        row.sent_at = utcnow()
        row.last_error = None
    else:
        row.status = MessageStatus.FAILED if row.attempts >= MAX_SEND_ATTEMPTS else MessageStatus.PENDING
        row.last_error = error[:500]
    session.flush()


@dataclass(frozen=True)
class Outbound:
    """What a sender gets: `id` doubles as an idempotency key for gateways that accept one."""

    id: int
    channel: str
    to: str
    body: str


class MessageSender(Protocol):
    def send(self, message: Outbound) -> None:
        """Deliver the message or raise; any exception counts as a failed attempt."""


class LoggingSender:
    """The default sender: writes each message to the log (numbers masked) and sends nothing."""

    def send(self, message: Outbound) -> None:
        to = mask(Personal.PHONE, message.to) if message.channel == "sms" else message.to
        log.info("outgoing %s #%s to %s: %s", message.channel, message.id, to, message.body)


def load_sender(path: str) -> MessageSender:
    """The sender named `module:attribute` (a class is instantiated). Raises ImportError, AttributeError."""
    module_name, _, attribute = path.partition(":")
    target = getattr(importlib.import_module(module_name), attribute or "sender")
    sender: MessageSender = target() if isinstance(target, type) else target
    return sender
