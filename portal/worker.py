"""The outbox relay and the rq worker. The only portal module that imports rq.

A job is first an outbox row written in the transaction that needs it. After commit the relay hands
each pending row to rq with a deterministic job id (`outbox-<id>`), or, with no Redis configured, runs
it in-process. A Redis outage leaves rows pending; the next relay (any request, or the worker's
periodic sweep) hands them over, so nothing is lost. Jobs are idempotent, so running one twice is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core import runtime
from core.models import OutboxJob
from core.services import pending_jobs
from core.settings import Settings
from core.types import utcnow
from credit_profile import jobs as credit_jobs
from matching import jobs as matching_jobs

log = logging.getLogger(__name__)
QUEUE_NAME = "default"
JOBS: dict[str, Callable[..., Any]] = {**matching_jobs.JOBS, **credit_jobs.JOBS}


def redis_connection(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    return Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)


def queue(settings: Settings) -> Queue | None:
    connection = redis_connection(settings)
    if connection is None:
        return None
    return Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)


def execute_outbox_job(outbox_id: int) -> None:
    """Run the job an outbox row names (what rq workers execute)."""
    with runtime.job_session() as session:
        row = session.get(OutboxJob, outbox_id)
        if row is None:
            return
        name, payload = row.name, dict(row.payload)
        row.attempts += 1
    JOBS[name](**payload)


def relay_outbox(factory: sessionmaker[Session], settings: Settings, *, limit: int = 100) -> int:
    """Hand pending outbox rows to rq, or run them here without Redis; returns how many were handed over.

    Each row is first claimed by a conditional UPDATE in a short transaction of its own, so two
    relays never hand over the same row, and no transaction is held open while a job runs (on
    SQLite an open write transaction would block the job's own session).
    """
    q = queue(settings)
    with factory() as session:
        pending = [(row.id, row.name, dict(row.payload)) for row in pending_jobs(session, limit=limit)]
        session.rollback()
    handed = 0
    for outbox_id, name, payload in pending:
        if not _claim(factory, outbox_id):
            continue
        try:
            if q is not None:
                q.enqueue(
                    execute_outbox_job,
                    outbox_id,
                    job_id=f"outbox-{outbox_id}",
                    retry=Retry(max=3, interval=[10, 60, 300]),
                )
            else:
                JOBS[name](**payload)
        except RedisError as exc:
            log.warning("redis unavailable, outbox job %s stays pending: %s", outbox_id, exc)
            _release(factory, outbox_id, exc)
            break
        except Exception as exc:
            log.exception("in-process job %s (%s) failed", outbox_id, name)
            _release(factory, outbox_id, exc)
            continue
        handed += 1
    return handed


def _claim(factory: sessionmaker[Session], outbox_id: int) -> bool:
    with factory() as session:
        result = session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == outbox_id, OutboxJob.enqueued_at.is_(None))
            .values(enqueued_at=utcnow())
        )
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _release(factory: sessionmaker[Session], outbox_id: int, error: BaseException) -> None:
    with factory() as session:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == outbox_id)
            .values(enqueued_at=None, attempts=OutboxJob.attempts + 1, last_error=str(error)[:500])
        )
        session.commit()


def run_worker(factory: sessionmaker[Session], settings: Settings, *, burst: bool = False) -> None:
    """Bind the job runtime once, relay anything pending, then work the queue with the scheduler."""
    from rq import Worker

    runtime.bind(factory, settings)
    connection = redis_connection(settings)
    assert connection is not None
    relay_outbox(factory, settings, limit=10_000)
    worker = Worker([QUEUE_NAME], connection=connection, serializer=JSONSerializer)
    worker.work(burst=burst, with_scheduler=True)
