"""The outbox: jobs written in the caller's transaction, handed to the queue after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import OutboxJob
from core.sql import insert_skipping_conflicts
from core.types import utcnow


def add_job(session: Session, name: str, dedup_key: str, **payload: Any) -> OutboxJob | None:
    """Write a job to the outbox in the caller's transaction; None if that key is already there."""
    if session.scalar(select(OutboxJob.id).where(OutboxJob.dedup_key == dedup_key)) is not None:
        return None
    job = OutboxJob(name=name, payload=payload, dedup_key=dedup_key)
    session.add(job)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        return None
    return job


def add_jobs(session: Session, jobs: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Write many jobs (name, dedup key, payload) to the outbox in one INSERT; a key already there is
    skipped, as `add_job` skips it."""
    if not jobs:
        return
    now = utcnow()
    session.execute(
        # RETURNING keeps it one multi-row INSERT (without it the driver runs one per row)
        insert_skipping_conflicts(session, OutboxJob, "dedup_key").returning(OutboxJob.id),
        [
            {"name": name, "payload": payload, "dedup_key": key, "created_at": now}
            for name, key, payload in jobs
        ],
    )


MAX_JOB_ATTEMPTS = 5
# A row handed to the queue this long ago and never completed was lost (Redis data loss, retries
# used up): it is handed over again, until MAX_JOB_ATTEMPTS runs have started.
REQUEUE_AFTER = dt.timedelta(hours=1)


def pending_jobs(
    session: Session, limit: int = 100, *, exclude: Collection[int] = (), now: dt.datetime | None = None
) -> list[OutboxJob]:
    """Outbox rows to hand to the queue, oldest first: never handed over, or handed over more than
    REQUEUE_AFTER ago and not completed. Rows that failed too often wait for ops."""
    now = now or utcnow()
    stmt = (
        select(OutboxJob)
        .where(
            OutboxJob.attempts < MAX_JOB_ATTEMPTS,
            or_(
                OutboxJob.enqueued_at.is_(None),
                (OutboxJob.enqueued_at < now - REQUEUE_AFTER) & OutboxJob.completed_at.is_(None),
            ),
        )
        .order_by(OutboxJob.id)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(OutboxJob.id.not_in(list(exclude)))
    return list(session.scalars(stmt))


def complete_job(session: Session, outbox_id: int) -> None:
    """Record that the outbox row's job ran to the end, so it is never handed over again."""
    session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id, OutboxJob.completed_at.is_(None))
        .values(completed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
