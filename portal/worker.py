"""The outbox relay, the rq worker, rq.cron for periodic work, and the embedded worker thread. The only
portal module that imports rq.

A job is first an outbox row written in the transaction that needs it. After commit the relay hands
each pending row to rq with a deterministic job id (`outbox-<id>`); jobs someone is waiting for (each
package's `INTERACTIVE`) go to the front of the queue. A Redis outage leaves rows pending; the next
relay (any request, a worker start, a periodic job, `flask relay-outbox`) hands them over, so nothing
is lost. A row handed over but never completed (its job lost with Redis, or out of retries) is handed
over again after `REQUEUE_AFTER`. Jobs are idempotent, so running one twice is safe.

Periodic jobs are declared beside their package (`PERIODIC` in each `jobs.py`, core.runtime.Periodic):

- with Redis, `flask cron` runs rq's own CronScheduler over them (`cron_scheduler`); it enqueues
  `run_periodic(name)` on the workers' queue on each declaration's interval or cron line. rq.cron does
  not elect a leader, so exactly one cron process runs: a second refuses to start while the first's
  heartbeat is fresh in rq's scheduler registry;
- without Redis, the web process's worker thread (`EmbeddedWorker`) runs the same declarations on the
  same schedule (rq.cron's own CronJob computes when each is due) and every outbox job, never a
  request. It starts with the app (not under TESTING, not in CLI commands), drains what is pending at
  once, and is woken by every commit (`jobs_committed`).

A worker killed mid-job loses nothing: the job's transaction was never committed; rq's
StartedJobRegistry cleanup (part of every worker's maintenance, once the job's timeout has passed)
hands it to its Retry, a worker starting where its predecessor died requeues its jobs at once
(`requeue_abandoned_jobs`), and the unique keys make the second run a no-op where the first got through.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.cron import CronJob, CronScheduler
from rq.cron_job_registry import add as record_cron_job
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import case, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import jobs as core_jobs
from core import runtime
from core.models import OutboxJob
from core.outbox import MAX_JOB_ATTEMPTS, REQUEUE_AFTER, add_job, complete_job, pending_jobs
from core.settings import Settings
from core.types import utcnow
from credit_profile import jobs as credit_jobs
from guarantees import jobs as guarantee_jobs
from matching import jobs as matching_jobs
from monitoring import jobs as monitoring_jobs
from stats import jobs as stats_jobs

log = logging.getLogger(__name__)
QUEUE_NAME = "default"
JOB_TIMEOUT = 900
JOBS: dict[str, Callable[..., Any]] = {
    **core_jobs.JOBS,
    **matching_jobs.JOBS,
    **credit_jobs.JOBS,
    **stats_jobs.JOBS,
    **guarantee_jobs.JOBS,
    **monitoring_jobs.JOBS,
}
# Several packages may follow the same job (a new score re-matches needs and checks monitored loans).
_FOLLOWERS = (matching_jobs.FOLLOW_UPS, monitoring_jobs.FOLLOW_UPS)
FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    name: tuple(job for followers in _FOLLOWERS for job in followers.get(name, ()))
    for name in {name for followers in _FOLLOWERS for name in followers}
}
PERIODIC: tuple[runtime.Periodic, ...] = (
    core_jobs.PERIODIC
    + matching_jobs.PERIODIC
    + credit_jobs.PERIODIC
    + guarantee_jobs.PERIODIC
    + stats_jobs.PERIODIC
    + monitoring_jobs.PERIODIC
)
INTERACTIVE: frozenset[str] = (
    core_jobs.INTERACTIVE | matching_jobs.INTERACTIVE | credit_jobs.INTERACTIVE | stats_jobs.INTERACTIVE
)


def periodic_jobs() -> dict[str, runtime.Periodic]:
    """Every declared periodic job, by name."""
    return {periodic.name: periodic for periodic in PERIODIC}


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
    """Hand pending outbox rows to rq, or run them here without Redis; returns how many were handed
    over (run, without Redis).

    Without Redis this is `run_pending`: what the embedded worker thread, `flask relay-outbox` and the
    tests call; requests never do (they only wake the thread).
    """
    q = queue(settings)
    if q is None:
        return run_pending(factory, limit=limit)
    handed = 0
    session = factory()
    try:
        for row in pending_jobs(session, limit=limit):
            try:
                q.enqueue(
                    execute_outbox_job,
                    row.id,
                    job_id=f"outbox-{row.id}",
                    retry=_retry(settings),
                    job_timeout=JOB_TIMEOUT,
                    at_front=row.name in INTERACTIVE,
                )
            except RedisError as exc:
                log.warning("redis unavailable, outbox job %s stays pending: %s", row.id, exc)
                row.last_error = str(exc)[:500]
                session.commit()
                return handed
            row.enqueued_at = utcnow()
            session.commit()
            handed += 1
    finally:
        session.close()
    return handed


def _next_pending(session: Session, exclude: set[int]) -> OutboxJob | None:
    """The pending row to run next in-process: jobs someone waits for first, then the oldest."""
    stmt = (
        select(OutboxJob)
        .where(
            OutboxJob.attempts < MAX_JOB_ATTEMPTS,
            or_(
                OutboxJob.enqueued_at.is_(None),
                (OutboxJob.enqueued_at < utcnow() - REQUEUE_AFTER) & OutboxJob.completed_at.is_(None),
            ),
        )
        .order_by(case((OutboxJob.name.in_(sorted(INTERACTIVE)), 0), else_=1), OutboxJob.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if exclude:
        stmt = stmt.where(OutboxJob.id.not_in(sorted(exclude)))
    return session.scalars(stmt).first()


def run_pending(factory: sessionmaker[Session], *, limit: int | None = None) -> int:
    """Run pending outbox jobs in this thread, one at a time, until none is left (or `limit` have run);
    returns how many ran to the end.

    The next job is chosen after each one, so a report asked for while deliveries drain runs next.
    Jobs the jobs write (follow-ups, deliveries) run in the same call; a job that fails is tried once
    per call and stays pending. A row is claimed by raising its attempts from the value read, so two
    processes draining one database never run the same job at once.
    """
    ran = 0
    tried: set[int] = set()
    session = factory()
    try:
        while limit is None or ran < limit:
            row = _next_pending(session, tried)
            if row is None:
                break
            tried.add(row.id)
            claimed = session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == row.id, OutboxJob.attempts == row.attempts)
                .values(attempts=row.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            session.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another process took it
            name, payload = row.name, dict(row.payload)
            try:
                run_job(row.id, name, payload)
            except Exception as exc:
                log.exception("in-process job %s (%s) failed", row.id, name)
                session.execute(
                    update(OutboxJob).where(OutboxJob.id == row.id).values(last_error=str(exc)[:500])
                )
                session.commit()
                continue
            session.execute(update(OutboxJob).where(OutboxJob.id == row.id).values(enqueued_at=utcnow()))
            session.commit()
            ran += 1
    finally:
        session.close()
    return ran


# --- periodic jobs ------------------------------------------------------------------------------


def run_periodic(name: str) -> Any:
    """rq entry point of a periodic job (what rq.cron enqueues): run it, then relay the jobs it wrote."""
    periodic = periodic_jobs().get(name)
    if periodic is None:  # declared no more (removed in a release) while its run was queued
        log.warning("periodic job %s is not declared any more", name)
        return None
    result = periodic.func()
    relay_outbox(runtime.session_factory(), runtime.settings())
    return result


def _schedule(periodic: runtime.Periodic, settings: Settings) -> dict[str, Any]:
    if periodic.cron is not None:
        return {"cron": periodic.cron}
    return {"interval": periodic.interval or settings.sweep_interval_seconds}


class _JSONCronJob(CronJob):
    """rq.cron's CronJob, enqueuing with the JSON serializer our workers read.

    rq 2.12's CronJob.enqueue builds its Queue with the default (pickle) serializer, which a JSON
    worker cannot read; this is the same enqueue and history bookkeeping with the workers' serializer.
    """

    def enqueue(self, connection: Redis) -> Job:
        if not self.func:
            raise ValueError("CronJob has no function to enqueue")
        q = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipeline:
            job = q.enqueue(self.func, *self.args, **self.kwargs, **self.job_options, pipeline=pipeline)
            assert job.enqueued_at is not None
            pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            record_cron_job(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
            pipeline.execute()
        log.info("cron enqueued %s on %s", self.name, self.queue_name)
        return job


class PeriodicScheduler(CronScheduler):
    """rq's CronScheduler whose jobs enqueue with the JSON serializer (see _JSONCronJob)."""

    def register(  # type: ignore[override]
        self,
        func: Callable[..., Any],
        queue_name: str,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        interval: int | None = None,
        cron: str | None = None,
        job_timeout: int | None = None,
        name: str = "",
        **options: Any,
    ) -> CronJob:
        cron_job = _JSONCronJob(
            queue_name=queue_name,
            func=func,
            args=args,
            kwargs=kwargs,
            interval=interval,
            cron=cron,
            job_timeout=job_timeout,
            name=name,
            **options,
        )
        self.get_jobs().append(cron_job)
        return cron_job


def cron_scheduler(connection: Redis, settings: Settings) -> CronScheduler:
    """rq's CronScheduler with every declared periodic job registered (none when
    SWEEP_INTERVAL_SECONDS is 0)."""
    scheduler = PeriodicScheduler(
        connection=connection, name=f"jihuitong:{socket.gethostname()}:{os.getpid()}"
    )
    if settings.sweep_interval_seconds <= 0:
        return scheduler
    for periodic in PERIODIC:
        scheduler.register(
            run_periodic,
            QUEUE_NAME,
            args=(periodic.name,),
            job_timeout=JOB_TIMEOUT,
            name=periodic.name,
            **_schedule(periodic, settings),
        )
    return scheduler


class CronAlreadyRunning(RuntimeError):
    """Another cron scheduler has sent a heartbeat within rq's scheduler TTL."""


def run_cron(settings: Settings) -> None:
    """Run rq's CronScheduler over the periodic declarations until stopped (SIGINT / SIGTERM).

    Raises CronAlreadyRunning when another live scheduler is registered: rq.cron elects no leader,
    so a second one would run every period twice.
    """
    connection = redis_connection(settings)
    assert connection is not None
    live = CronScheduler.all(connection)
    if live:
        raise CronAlreadyRunning(", ".join(scheduler.name for scheduler in live))
    cron_scheduler(connection, settings).start()


# --- without Redis: the embedded worker thread --------------------------------------------------


class EmbeddedWorker(threading.Thread):
    """Without Redis, the web process's one background worker: outbox jobs and the periodic ones.

    It drains what is pending as soon as it starts, then whenever a commit wakes it, and runs each
    periodic declaration when rq.cron's CronJob says it is due (interval jobs also at start). Between
    two periodic jobs it drains again, so a sweep never keeps a waiting report behind it for long.
    """

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(name="jihuitong-worker", daemon=True)
        self.factory = factory
        self.settings = settings
        self.schedule = (
            [CronJob(QUEUE_NAME, func=p.func, name=p.name, **_schedule(p, settings)) for p in PERIODIC]
            if settings.sweep_interval_seconds > 0
            else []
        )
        self.woken = threading.Event()
        self.stopping = threading.Event()
        self.passes = 0
        self.passed = threading.Condition()

    def wake(self) -> None:
        self.woken.set()

    def stop(self) -> None:
        self.stopping.set()
        self.woken.set()

    def _drain(self) -> None:
        try:
            run_pending(self.factory)
        except Exception:
            log.exception("embedded worker: draining the outbox failed")

    def _run_due(self) -> None:
        for cron_job in self.schedule:
            if self.stopping.is_set() or not cron_job.should_run():
                continue
            cron_job.set_enqueue_time(dt.datetime.now(dt.UTC))
            try:
                assert cron_job.func is not None
                cron_job.func()
            except Exception:
                log.exception("periodic job %s failed", cron_job.name)
            self._drain()

    def _seconds_to_next(self) -> float:
        due = [job.next_enqueue_time for job in self.schedule if job.next_enqueue_time]
        if not due:
            return 60.0
        return min(max((min(due) - dt.datetime.now(dt.UTC)).total_seconds(), 0.0), 60.0)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.woken.clear()
            self._drain()
            self._run_due()
            with self.passed:
                self.passes += 1
                self.passed.notify_all()
            self.woken.wait(self._seconds_to_next())


def start_embedded_worker(factory: sessionmaker[Session], settings: Settings) -> EmbeddedWorker:
    thread = EmbeddedWorker(factory, settings)
    thread.start()
    return thread


def jobs_committed(factory: sessionmaker[Session], settings: Settings, thread: EmbeddedWorker | None) -> None:
    """After a commit that may have written jobs: hand them to rq, or wake the embedded worker thread
    (none runs in CLI commands and tests: their jobs wait for the next start, or a test's drain)."""
    if settings.redis_url:
        relay_outbox(factory, settings)
    elif thread is not None:
        thread.wake()


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
    queue with rq's scheduler (retry delays); periodic jobs come from `flask cron` (run_cron)."""
    runtime.bind(factory, settings)
    engine = factory.kw.get("bind")
    if isinstance(engine, Engine):
        _dispose_pool_after_fork(engine)
    connection = redis_connection(settings)
    assert connection is not None
    relay_outbox(factory, settings, limit=10_000)
    requeue_abandoned_jobs(settings)
    worker = Worker([QUEUE_NAME], connection=connection, serializer=JSONSerializer)
    worker.work(burst=burst, with_scheduler=True)
