"""The rq side: periodic declarations on rq.cron, a real worker in burst mode, a worker killed mid-match,
and without Redis the app's worker thread."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import click
import pytest
from flask import has_request_context
from redis import Redis
from rq import Queue
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from core import runtime
from core.models import MessageStatus, OutboxJob, OutgoingMessage, StatusEvent, User
from core.outbox import add_job
from matching.models import Lead, Need, NeedStatus
from matching.needs import NeedInput, submit_need
from portal import worker
from portal.app import create_app
from tests.conftest import DATABASE_URL, IS_POSTGRES, JOBS_COMMITTED, TEST_DATA_KEY, make_settings
from tests.factories import (
    PASSWORD,
    BorrowerFactory,
    InstitutionFactory,
    LeadFactory,
    NeedFactory,
    ProductFactory,
    UserFactory,
    bind_factories,
)
from tests.portal.api_helpers import token

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _queue(redis_url: str) -> Queue:
    return Queue(worker.QUEUE_NAME, connection=Redis.from_url(redis_url), serializer=JSONSerializer)


def test_every_periodic_declaration_reaches_rq_cron_and_its_jobs_are_json(redis_url, monkeypatch):
    declared = {
        "expire_overdue_leads",
        "sweep_stale_leads",
        "send_renewal_reminders",
        "deliver_pending_messages",
        "expire_consents",
        "purge_expired_data",
        "check_score_stability",
        "guarantees_maturity_radar",
        "guarantees_overdue_bridges",
        "guarantees_activate_covers",
        "queue_monthly_reports",
        "escalate_early_warnings",
        "load_calendar_years",
        "anchor_audit_chain",
    }
    assert set(worker.periodic_jobs()) == declared
    extra = runtime.Periodic("extra_every_minute", lambda: None, interval=60)
    monkeypatch.setattr(worker, "PERIODIC", (*worker.PERIODIC, extra))
    connection = Redis.from_url(redis_url)

    scheduler = worker.cron_scheduler(
        connection, make_settings(redis_url=redis_url, sweep_interval_seconds=300)
    )

    assert isinstance(scheduler, CronScheduler)
    schedule = {job.name: (job.interval, job.cron) for job in scheduler.get_jobs()}
    cron_lines = {
        "purge_expired_data": "0 19 * * *",
        "check_score_stability": "0 20 1 * *",
        "guarantees_maturity_radar": "30 17 * * *",  # 01:30 Asia/Shanghai
        "guarantees_overdue_bridges": "30 17 * * *",
        "queue_monthly_reports": "30 17 * * *",
        "load_calendar_years": "5 16 * * *",
    }
    assert schedule == {
        **dict.fromkeys(declared - set(cron_lines), (300, None)),
        **{name: (None, line) for name, line in cron_lines.items()},
        "extra_every_minute": (60, None),
    }
    enqueued = {job.name for job in scheduler.enqueue_jobs()}
    assert enqueued == set(schedule) - set(cron_lines)  # interval jobs at once, the cron lines later
    queue = _queue(redis_url)
    jobs = [Job.fetch(job_id, connection=connection, serializer=JSONSerializer) for job_id in queue.job_ids]
    assert sorted((job.func_name, list(job.args)) for job in jobs) == sorted(
        ("portal.worker.run_periodic", [name]) for name in enqueued
    )
    assert worker.cron_scheduler(connection, make_settings(sweep_interval_seconds=0)).get_jobs() == []


def test_a_second_cron_scheduler_refuses_to_start_while_one_is_alive(redis_url):
    settings = make_settings(redis_url=redis_url)
    first = worker.cron_scheduler(Redis.from_url(redis_url), settings)
    first.register_birth()
    try:
        with pytest.raises(worker.CronAlreadyRunning, match=first.name):
            worker.run_cron(settings)
    finally:
        first.register_death()


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


def _overdue_lead(factory) -> int:
    """A matched need whose only lead's SLA has passed: the SLA sweep will expire it."""
    with factory() as s:
        bind_factories(s)
        institution = InstitutionFactory()
        product = ProductFactory(institution=institution, published=True)
        borrower = BorrowerFactory()
        need = NeedFactory(borrower=borrower, matched=True, amount=Decimal("100000"), purpose="x")
        LeadFactory(need=need, product=product, sla_due_at=_past())
        s.commit()
        return need.id


def _record_threads(monkeypatch, name: str) -> list[tuple[int, bool]]:
    """Make job `name` note the thread it runs in and whether a request was being handled there."""
    ran: list[tuple[int, bool]] = []
    real = worker.JOBS[name]

    def recording(**payload):
        ran.append((threading.get_ident(), has_request_context()))
        return real(**payload)

    monkeypatch.setitem(worker.JOBS, name, recording)
    return ran


def _status(factory, need_id: int) -> str:
    with factory() as s:
        return s.get(Need, need_id).status


def _eventually(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _wait_for_pass(thread: worker.EmbeddedWorker, passes: int) -> None:
    with thread.passed:
        assert thread.passed.wait_for(lambda: thread.passes >= passes, timeout=60)


def test_without_redis_the_app_starts_a_worker_thread_that_drains_what_is_pending(committed_db, monkeypatch):
    _engine, factory = committed_db
    overdue_need = _overdue_lead(factory)
    need_id = _catalogue_and_need(factory)  # its match_need job is pending, as the CLI leaves its jobs
    ran = _record_threads(monkeypatch, "match_need")

    quiet = create_app(make_settings(testing=True), session_factory=factory)
    assert "jihuitong.worker" not in quiet.extensions  # tests run jobs at commit (conftest)
    with click.Context(click.Command("seed-demo"), info_name="seed-demo"):
        cli = create_app(make_settings(testing=False), session_factory=factory)
    assert "jihuitong.worker" not in cli.extensions  # CLI commands never run jobs
    assert ran == []

    app = create_app(make_settings(testing=False, sweep_interval_seconds=3600), session_factory=factory)
    thread = app.extensions["jihuitong.worker"]  # started with the app, before any request
    try:
        _wait_for_pass(thread, 1)
        assert ran == [(thread.ident, False)]
        _matched_once(factory, need_id, leads=3)
        with factory() as s:  # the officers' SMS written by the match job were delivered in the same pass
            statuses = s.scalars(select(OutgoingMessage.status)).all()
            assert len(statuses) >= 3 and set(statuses) == {MessageStatus.SENT}
            first_lead = select(Lead.status).where(Lead.need_id == overdue_need).order_by(Lead.id).limit(1)
            assert s.scalar(first_lead) == "expired"  # the SLA sweep ran at start
            assert s.scalar(select(func.count()).where(OutboxJob.completed_at.is_(None))) == 0
    finally:
        thread.stop()
        thread.join(timeout=60)


def test_a_request_commit_only_wakes_the_worker_thread_and_runs_no_job(committed_db, monkeypatch):
    _engine, factory = committed_db
    _catalogue_and_need(factory)
    with factory() as s:
        username = s.scalar(select(User.username).where(User.borrower_id.is_not(None)))
    ran = _record_threads(monkeypatch, "match_need")
    body = {
        "amount": 200000,
        "term_months": 12,
        "purpose": "周转",
        "collateral": "credit",
        "declared_prior_loan": False,
    }

    monkeypatch.setattr(worker, "jobs_committed", JOBS_COMMITTED)  # the app's own, not the harness's
    # Under TESTING no thread runs: a commit leaves the job pending.
    quiet = create_app(make_settings(testing=True), session_factory=factory)
    client = quiet.test_client()
    worker.run_pending(factory)  # the first need's job
    ran.clear()
    response = client.post("/api/v1/needs", json=body, headers=token(client, username, PASSWORD))
    assert response.status_code == 201
    assert ran == []
    with factory() as s:
        row = s.scalars(select(OutboxJob).where(OutboxJob.completed_at.is_(None))).one()
        assert (row.name, row.attempts, row.enqueued_at) == ("match_need", 0, None)
    worker.run_pending(factory)

    # With the thread running, the request's commit wakes it and the job runs there.
    app = create_app(make_settings(testing=False, sweep_interval_seconds=3600), session_factory=factory)
    thread = app.extensions["jihuitong.worker"]
    try:
        _wait_for_pass(thread, 1)
        client = app.test_client()
        headers = token(client, username, PASSWORD)
        ran.clear()
        # Another term: the same need again would be a duplicate (409 duplicate_need).
        response = client.post("/api/v1/needs", json={**body, "term_months": 24}, headers=headers)
        assert response.status_code == 201
        need_id = response.get_json()["id"]
        _eventually(lambda: _status(factory, need_id) == NeedStatus.MATCHED)
        assert ran == [(thread.ident, False)] and thread.ident != threading.get_ident()
    finally:
        thread.stop()
        thread.join(timeout=60)


def test_the_worker_thread_runs_interactive_jobs_before_bulk_deliveries(app, session_factory, monkeypatch):
    order: list[str] = []
    for name in ("deliver_message", "build_monthly_report", "match_need"):
        monkeypatch.setitem(worker.JOBS, name, lambda name=name, **payload: order.append(name))
    with session_factory() as s:
        for i in range(5):
            add_job(s, "deliver_message", f"deliver:{i}", message_id=i)
        add_job(s, "build_monthly_report", "report:1", report_id=1)
        add_job(s, "deliver_message", "deliver:5", message_id=5)
        add_job(s, "match_need", "match:1", need_id=1)
        s.commit()

    assert worker.run_pending(session_factory) == 8
    assert order == ["build_monthly_report", "match_need"] + ["deliver_message"] * 6


def _past():
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
