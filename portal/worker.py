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
    """Hand pending outbox rows to rq, or run them here without Redis; returns how many were handed over."""
    q = queue(settings)
    handed = 0
    session = factory()
    try:
        for row in pending_jobs(session, limit=limit):
            if q is not None:
                try:
                    q.enqueue(
                        execute_outbox_job,
                        row.id,
                        job_id=f"outbox-{row.id}",
                        retry=Retry(max=3, interval=[10, 60, 300]),
                    )
                except RedisError as exc:
                    log.warning("redis unavailable, outbox job %s stays pending: %s", row.id, exc)
                    row.last_error = str(exc)[:500]
                    session.commit()
                    break
            else:
                try:
                    JOBS[row.name](**row.payload)
                except Exception as exc:
                    log.exception("in-process job %s (%s) failed", row.id, row.name)
                    row.attempts += 1
                    row.last_error = str(exc)[:500]
                    session.commit()
                    continue
            row.enqueued_at = utcnow()
            session.commit()
            handed += 1
    finally:
        session.close()
    return handed


def run_worker(factory: sessionmaker[Session], settings: Settings, *, burst: bool = False) -> None:
    """Bind the job runtime once, relay anything pending, then work the queue with the scheduler."""
    from rq import Worker

    runtime.bind(factory, settings)
    connection = redis_connection(settings)
    assert connection is not None
    relay_outbox(factory, settings, limit=10_000)
    worker = Worker([QUEUE_NAME], connection=connection, serializer=JSONSerializer)
    worker.work(burst=burst, with_scheduler=True)
