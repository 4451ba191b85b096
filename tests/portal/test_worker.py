"""The rq side: periodic scheduling, a real worker in burst mode, a worker killed mid-match, the embedded loop."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from core import runtime
from core.models import MessageStatus, OutboxJob, OutgoingMessage, StatusEvent
from matching.models import Lead, Need, NeedStatus
from matching.needs import NeedInput, submit_need
from portal import worker
from portal.app import create_app
from tests.conftest import DATABASE_URL, IS_POSTGRES, TEST_DATA_KEY, make_settings
from tests.factories import BorrowerFactory, InstitutionFactory, ProductFactory, UserFactory, bind_factories

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _queue(redis_url: str) -> Queue:
    return Queue(worker.QUEUE_NAME, connection=Redis.from_url(redis_url), serializer=JSONSerializer)


def test_every_periodic_job_is_scheduled_once_per_period_however_many_workers_start(redis_url, monkeypatch):
    assert {
        "expire_overdue_leads",
        "sweep_stale_leads",
        "send_renewal_reminders",
        "deliver_pending_messages",
    } <= set(worker.periodic_jobs())
    monkeypatch.setitem(worker.JOBS, "consent_expiry", runtime.periodic(lambda: None))
    monkeypatch.setitem(worker.JOBS, "not_periodic", lambda: None)
    settings = make_settings(redis_url=redis_url, sweep_interval_seconds=300)
    connection = Redis.from_url(redis_url)
    now = 1_800_000_123.0
    period = int(now // 300)

    first = worker.schedule_periodic(connection, settings, now=now)
    assert worker.schedule_periodic(connection, settings, now=now) == []  # a second worker
    assert worker.schedule_periodic(connection, settings, now=now + 100) == []  # later, same period

    names = set(worker.periodic_jobs())
    assert "consent_expiry" in names and "not_periodic" not in names
    assert sorted(first) == sorted(
        worker.periodic_job_id(name, p) for name in names for p in (period, period + 1)
    )
    queue = _queue(redis_url)
    assert sorted(queue.job_ids) == sorted(worker.periodic_job_id(name, period) for name in names)
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert sorted(scheduled) == sorted(worker.periodic_job_id(name, period + 1) for name in names)


def _catalogue_and_need(factory, *, banks=3):
    with factory() as s:
        bind_factories(s)
        for i in range(banks):
            institution = InstitutionFactory()
            ProductFactory(institution=institution, published=True, rate_min=Decimal(f"3.{i}0"))
            UserFactory(officer=True, institution_id=institution.id, phone="13900000000")
        borrower = BorrowerFactory()
        user = UserFactory(borrower_id=borrower.id)
        need = submit_need(
            s,
            borrower_id=borrower.id,
            actor_id=user.id,
            data=NeedInput(
                amount=Decimal("400000"),
                term_months=12,
                purpose="备货",
                collateral="credit",
                declared_prior_loan=False,
            ),
        )
        s.commit()
        return need.id


def _matched_once(factory, need_id, *, leads):
    with factory() as s:
        need = s.get(Need, need_id)
        assert need.status == NeedStatus.MATCHED
        pairs = s.execute(select(Lead.need_id, Lead.institution_id).where(Lead.need_id == need_id)).all()
        assert len(pairs) == leads and len(set(pairs)) == leads
        matched_events = s.scalar(
            select(func.count()).where(StatusEvent.need_id == need_id, StatusEvent.to_status == "matched")
        )
        assert matched_events == 1


def test_a_real_worker_in_burst_mode_matches_and_delivers(committed_db, redis_url):
    _engine, factory = committed_db
    settings = make_settings(redis_url=redis_url)
    runtime.bind(factory, settings)
    need_id = _catalogue_and_need(factory)

    assert worker.relay_outbox(factory, settings) == 1  # handed to Redis, not run here
    with factory() as s:
        assert s.get(Need, need_id).status == NeedStatus.SUBMITTED

    worker.run_worker(factory, settings, burst=True)

    _matched_once(factory, need_id, leads=3)
    with factory() as s:  # the officers' SMS were queued by the match job and delivered by the worker
        statuses = s.scalars(select(OutgoingMessage.status)).all()
        assert statuses == [MessageStatus.SENT] * 3
    assert _queue(redis_url).count == 0


def test_a_worker_killed_in_the_middle_of_matching_loses_nothing_and_duplicates_nothing(
    committed_db, redis_url, tmp_path
):
    _engine, factory = committed_db
    settings = make_settings(redis_url=redis_url, job_retry_delays=(0,))
    runtime.bind(factory, settings)
    need_id = _catalogue_and_need(factory)
    worker.relay_outbox(factory, settings)

    marker = tmp_path / "inside-matching"
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT),
        "DATA_KEY": TEST_DATA_KEY,
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.portal.slow_worker", str(marker)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(600):  # the horse writes its pid once the leads are flushed
            if marker.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), log.read_text()
        horse = int(marker.read_text())
        if IS_POSTGRES:  # (SQLite: the horse holds the database's write lock, a reader would wait)
            with factory() as s:  # flushed inside the horse's transaction, not committed
                assert s.scalar(select(func.count()).where(Lead.need_id == need_id)) == 0
    finally:
        marker_pid = int(marker.read_text()) if marker.exists() else None
        process.send_signal(signal.SIGKILL)  # the worker and its work horse die together, as in a crash
        if marker_pid:
            os.kill(marker_pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert horse == marker_pid

    with factory() as s:
        need = s.get(Need, need_id)
        assert need.status == NeedStatus.SUBMITTED
        assert s.scalar(select(func.count()).where(Lead.need_id == need_id)) == 0

    queue = _queue(redis_url)
    registry = StartedJobRegistry(queue=queue)
    outbox_job = f"outbox-{_outbox_id(factory)}"
    assert outbox_job in registry.get_job_ids()  # rq still believes it is running
    assert outbox_job not in queue.job_ids
    # Instead of waiting for the dead execution's timeout, expire it now: rq hands it to its Retry.
    registry.cleanup(timestamp=time.time() + worker.JOB_TIMEOUT + 3600)
    assert outbox_job in queue.job_ids

    worker.run_worker(factory, settings, burst=True)

    _matched_once(factory, need_id, leads=3)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutgoingMessage)) == 3


def _outbox_id(factory) -> int:
    with factory() as s:
        return s.scalar(select(OutboxJob.id).where(OutboxJob.name == "match_need"))


def test_without_redis_the_web_process_sweeps_in_a_thread_started_by_the_first_request(committed_db):
    _engine, factory = committed_db
    with factory() as s:
        bind_factories(s)
        institution = InstitutionFactory()
        product = ProductFactory(institution=institution, published=True)
        borrower = BorrowerFactory()
        need = Need(
            borrower_id=borrower.id,
            amount=Decimal("100000"),
            term_months=12,
            purpose="x",
            collateral="credit",
            declared_prior_loan=False,
            status=NeedStatus.MATCHED,
            dispatch_round=1,
        )
        s.add(need)
        s.flush()
        s.add(
            Lead(
                need_id=need.id,
                borrower_id=need.borrower_id,
                institution_id=institution.id,
                product_id=product.id,
                sla_due_at=_past(),
            )
        )
        s.commit()

    quiet = create_app(make_settings(testing=True, sweep_interval_seconds=1), session_factory=factory)
    quiet.test_client().get("/api/v1/reference/regions")
    assert "jihuitong.sweeper" not in quiet.extensions

    app = create_app(make_settings(testing=False, sweep_interval_seconds=1), session_factory=factory)
    assert "jihuitong.sweeper" not in app.extensions  # building the app (CLI commands) starts nothing
    app.test_client().get("/api/v1/reference/regions")
    sweeper = app.extensions["jihuitong.sweeper"]
    try:
        with sweeper.ticked:
            assert sweeper.ticked.wait_for(lambda: sweeper.ticks >= 1, timeout=60)
    finally:
        sweeper.stop()
        sweeper.join(timeout=60)
    app.test_client().get("/api/v1/reference/regions")
    assert app.extensions["jihuitong.sweeper"] is sweeper  # one thread per process
    with factory() as s:
        assert s.scalar(select(Lead.status)) == "expired"
        assert s.get(Need, need.id).status == NeedStatus.REJECTED  # nobody else to try


def _past():
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
