"""The outbox relay, the rq worker and the periodic sweeps. The only portal module that imports rq.

A job is first an outbox row written in the transaction that needs it. After commit the relay hands
each pending row to rq with a deterministic job id (`outbox-<id>`), or, with no Redis configured, runs
it in-process. A Redis outage leaves rows pending; the next relay (any request, a worker start, or
the periodic sweep) hands them over, so nothing is lost. A row handed over but never completed (its
job lost with Redis, or out of retries) is handed over again after `REQUEUE_AFTER`. Jobs are
idempotent, so running one twice is safe.

Periodic jobs (`core.runtime.periodic`) run once per period of SWEEP_INTERVAL_SECONDS:

- with Redis, through rq's own scheduler (`Worker(..., with_scheduler=True)`, one scheduler holds the
  lock at a time). The job of period p has the id `periodic-<name>-<p>` and is scheduled only by whoever
  wins `SET NX` on a per-period key, so however many workers start, a period runs once. Each run first
  schedules the next period (so a failing sweep never breaks the chain), then works; a worker start
  schedules the current and the next period, which also restarts a chain lost with Redis;
- without Redis, by a daemon thread in the web process (`start_sweeper`), started with the first
  request (never by CLI commands) unless testing.

A worker killed mid-job loses nothing: the job's transaction was never committed; rq's
StartedJobRegistry cleanup (part of every worker's maintenance, once the job's timeout has passed)
hands it to its Retry, and the unique keys make the second run a no-op where the first got through.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import jobs as core_jobs
from core import runtime
from core.models import OutboxJob
from core.services import add_job, complete_job, pending_jobs
from core.settings import Settings
from core.types import utcnow
from credit_profile import jobs as credit_jobs
from matching import jobs as matching_jobs

log = logging.getLogger(__name__)
QUEUE_NAME = "default"
JOB_TIMEOUT = 900
JOBS: dict[str, Callable[..., Any]] = {**core_jobs.JOBS, **matching_jobs.JOBS, **credit_jobs.JOBS}
FOLLOW_UPS: dict[str, tuple[str, ...]] = {**matching_jobs.FOLLOW_UPS}


def periodic_jobs() -> dict[str, Callable[..., Any]]:
    """Every registered job marked periodic, by name."""
    return {name: func for name, func in JOBS.items() if runtime.is_periodic(func)}


def redis_connection(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    return Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)


def queue(settings: Settings, connection: Redis | None = None) -> Queue | None:
    connection = connection or redis_connection(settings)
    if connection is None:
        return None
    return Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)


def _retry(settings: Settings) -> Retry | None:
    delays = list(settings.job_retry_delays)
    return Retry(max=len(delays), interval=delays) if delays else None


def run_job(outbox_id: int, name: str, payload: dict[str, Any]) -> None:
    """Run an outbox row's job, then mark the row completed and queue its follow-ups (one transaction).

    Raises whatever the job raises.
    """
    JOBS[name](**payload)
    with runtime.job_session() as session:
        complete_job(session, outbox_id)
        for follow_up in FOLLOW_UPS.get(name, ()):
            add_job(session, follow_up, f"{follow_up}:after:{outbox_id}", **payload)


def execute_outbox_job(outbox_id: int) -> None:
    """Run the job an outbox row names (what rq workers execute), then relay the jobs it wrote."""
    with runtime.job_session() as session:
        row = session.get(OutboxJob, outbox_id)
        if row is None or row.completed_at is not None:
            return
        name, payload = row.name, dict(row.payload)
        row.attempts += 1
    run_job(outbox_id, name, payload)
    relay_outbox(runtime.session_factory(), runtime.settings())


def relay_outbox(factory: sessionmaker[Session], settings: Settings, *, limit: int = 100) -> int:
    """Hand pending outbox rows to rq, or run them here without Redis; returns how many were handed over.

    In-process, jobs a job writes (follow-ups, deliveries) run in the same call; a row that fails is
    tried once per call.
    """
    q = queue(settings)
    handed = 0
    tried: set[int] = set()
    session = factory()
    try:
        while handed < limit:
            rows = pending_jobs(session, limit=limit - handed, exclude=tried)
            if not rows:
                break
            for row in rows:
                tried.add(row.id)
                if q is not None:
                    try:
                        q.enqueue(
                            execute_outbox_job,
                            row.id,
                            job_id=f"outbox-{row.id}",
                            retry=_retry(settings),
                            job_timeout=JOB_TIMEOUT,
                        )
                    except RedisError as exc:
                        log.warning("redis unavailable, outbox job %s stays pending: %s", row.id, exc)
                        row.last_error = str(exc)[:500]
                        session.commit()
                        return handed
                else:
                    row.attempts += 1
                    name, payload = row.name, dict(row.payload)
                    session.commit()
                    try:
                        run_job(row.id, name, payload)
                    except Exception as exc:
                        log.exception("in-process job %s (%s) failed", row.id, name)
                        row.last_error = str(exc)[:500]
                        session.commit()
                        continue
                row.enqueued_at = utcnow()
                session.commit()
                handed += 1
            if q is not None:
                break
    finally:
        session.close()
    return handed


# --- periodic jobs ------------------------------------------------------------------------------


def _period_key(name: str, period: int) -> str:
    return f"jihuitong:periodic:{name}:{period}"


def periodic_job_id(name: str, period: int) -> str:
    return f"periodic-{name}-{period}"


def schedule_period(
    connection: Redis, settings: Settings, name: str, period: int, *, now: float | None = None
) -> bool:
    """Schedule the named periodic job for one period, unless someone already did; True if this call did.

    The period's job starts at `period * SWEEP_INTERVAL_SECONDS` (epoch seconds), or at once when
    that moment has passed.
    """
    interval = settings.sweep_interval_seconds
    if not connection.set(_period_key(name, period), "1", nx=True, ex=interval * 3 + 60):
        return False
    q = queue(settings, connection)
    assert q is not None
    options: dict[str, Any] = {
        "job_id": periodic_job_id(name, period),
        "retry": _retry(settings),
        "job_timeout": JOB_TIMEOUT,
        "result_ttl": interval * 3 + 60,
    }
    start = period * interval
    if start <= (time.time() if now is None else now):
        q.enqueue(run_periodic, name, period, **options)
    else:
        q.enqueue_at(dt.datetime.fromtimestamp(start, dt.UTC), run_periodic, name, period, **options)
    return True


def schedule_periodic(connection: Redis, settings: Settings, *, now: float | None = None) -> list[str]:
    """Make sure every periodic job has its current and its next period scheduled; returns the job
    ids this call scheduled (none when another worker got there first)."""
    now = time.time() if now is None else now
    current = int(now // settings.sweep_interval_seconds)
    scheduled = []
    for name in periodic_jobs():
        for period in (current, current + 1):
            if schedule_period(connection, settings, name, period, now=now):
                scheduled.append(periodic_job_id(name, period))
    return scheduled


def run_periodic(name: str, period: int) -> Any:
    """rq entry point of a periodic job: schedule the next period first, then run this one.

    A job that runs late schedules the period after now, not the one after its own, so a worker back
    from a long outage runs each sweep once rather than once per missed period.
    """
    settings = runtime.settings()
    func = periodic_jobs().get(name)
    if func is None:  # no longer periodic (removed in a release): let its chain end here
        log.warning("periodic job %s is not registered any more", name)
        return None
    job = get_current_job()
    if job is not None and settings.sweep_interval_seconds > 0:
        current = int(time.time() // settings.sweep_interval_seconds)
        schedule_period(job.connection, settings, name, max(period, current) + 1)
    result = func()
    relay_outbox(runtime.session_factory(), settings)
    return result


def run_periodic_in_process(factory: sessionmaker[Session], settings: Settings) -> dict[str, Any]:
    """One tick of the embedded scheduler: relay the outbox (retrying failed in-process jobs), then run
    every periodic job here. A failing job is logged and does not stop the others."""
    results: dict[str, Any] = {}
    try:
        results["relay_outbox"] = relay_outbox(factory, settings, limit=10_000)
    except Exception:
        log.exception("embedded relay failed")
    for name, func in periodic_jobs().items():
        try:
            results[name] = func()
        except Exception:
            log.exception("periodic job %s failed", name)
    return results


class Sweeper(threading.Thread):
    """The embedded scheduler: a daemon thread running `run_periodic_in_process` every interval."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(name="jihuitong-sweeper", daemon=True)
        self.factory = factory
        self.settings = settings
        self.stopping = threading.Event()
        self.ticks = 0
        self.ticked = threading.Condition()

    def run(self) -> None:
        while not self.stopping.wait(self.settings.sweep_interval_seconds):
            run_periodic_in_process(self.factory, self.settings)
            with self.ticked:
                self.ticks += 1
                self.ticked.notify_all()

    def stop(self) -> None:
        self.stopping.set()


def start_sweeper(factory: sessionmaker[Session], settings: Settings) -> Sweeper:
    sweeper = Sweeper(factory, settings)
    sweeper.start()
    return sweeper


# --- the worker ---------------------------------------------------------------------------------

_forked_engines: set[int] = set()


def _dispose_pool_after_fork(engine: Engine) -> None:
    """rq runs each job in a forked work horse: it must not reuse the parent's pooled connections."""
    if id(engine) in _forked_engines:
        return
    _forked_engines.add(id(engine))
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


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
        execution = Execution(execution_id, job_id, connection=connection)
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:  # deleted under the registry: drop its entry
            registry.remove_execution(execution)
            continue
        if not _worker_is_dead(connection, job.worker_name):
            continue
        with connection.pipeline() as pipeline:  # out of the started registry and the job's executions
            execution.delete(job, pipeline)
            pipeline.execute()
        q.enqueue_job(job, at_front=True)
        log.warning("job %s abandoned by dead worker %s: requeued", job_id, job.worker_name)
        requeued.append(job_id)
    return requeued


def run_worker(factory: sessionmaker[Session], settings: Settings, *, burst: bool = False) -> None:
    """Bind the job runtime once, relay anything pending, requeue what dead workers left, then work the
    queue with the scheduler."""
    runtime.bind(factory, settings)
    engine = factory.kw.get("bind")
    if isinstance(engine, Engine):
        _dispose_pool_after_fork(engine)
    connection = redis_connection(settings)
    assert connection is not None
    relay_outbox(factory, settings, limit=10_000)
    requeue_abandoned_jobs(settings)
    if settings.sweep_interval_seconds > 0:
        schedule_periodic(connection, settings)
    worker = Worker([QUEUE_NAME], connection=connection, serializer=JSONSerializer)
    worker.work(burst=burst, with_scheduler=True)
