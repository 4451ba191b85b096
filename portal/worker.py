"""The outbox relay and the rq worker. The only portal module that imports rq.

A job is first an outbox row written in the transaction that needs it. After commit the relay hands
each pending row to rq with a deterministic job id (`outbox-<id>`), or, with no Redis configured, runs
it in-process. A Redis outage leaves rows pending; the next relay (any request, or the worker's
periodic sweep) hands them over, so nothing is lost. Jobs are idempotent, so running one twice is safe.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import Engine
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


def _worker_is_dead(connection: Redis, name: str | None) -> bool:
    """True for a worker whose registration expired, or one of this host whose process is gone."""
    if not name:
        return False
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + name, connection=connection, serializer=JSONSerializer
    )
    if worker is None:
        return True
    if worker.hostname != socket.gethostname() or not worker.pid:
        return False  # another machine's worker: rq's heartbeat expiry decides for it
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def requeue_abandoned_jobs(settings: Settings) -> list[str]:
    """Put every started job whose worker is dead back on the queue now; returns their ids.

    rq notices an abandoned job only once its heartbeat lapses, and then waits out the retry interval.
    A worker starting where its predecessor was killed (OOM, SIGKILL, a reboot) knows at once: a worker
    of this host whose process is gone, or one whose registration expired, will never finish. Jobs are
    idempotent, so running one again is safe even if it had done its work before it died.
    """
    connection = redis_connection(settings)
    if connection is None:
        return []
    q = Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)
    registry = StartedJobRegistry(queue=q)
    requeued = []
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            connection.zrem(registry.key, f"{job_id}:{execution_id}")
            continue
        if not _worker_is_dead(connection, job.worker_name):
            continue
        connection.zrem(registry.key, f"{job_id}:{execution_id}")
        q.enqueue_job(job)
        log.warning("job %s abandoned by dead worker %s: requeued", job_id, job.worker_name)
        requeued.append(job_id)
    return requeued


def run_worker(factory: sessionmaker[Session], settings: Settings, *, burst: bool = False) -> None:
    """Bind the job runtime once, relay anything pending, requeue what dead workers left, then work the
    queue with the scheduler."""
    runtime.bind(factory, settings)
    connection = redis_connection(settings)
    assert connection is not None
    relay_outbox(factory, settings, limit=10_000)
    requeue_abandoned_jobs(settings)
    # rq forks a work horse per job: it must not inherit this process's pooled database connections.
    bind = factory.kw.get("bind")
    if isinstance(bind, Engine):
        bind.dispose()
    worker = Worker([QUEUE_NAME], connection=connection, serializer=JSONSerializer)
    worker.work(burst=burst, with_scheduler=True)
