"""Faults: a worker killed mid-job, Redis down while needs arrive, a database connection killed, and
stale jobs of a dead worker. Each leaves no 500, loses nothing and does nothing twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from core.accounts import create_user, open_session
from core.audit import verify_chain
from core.db import make_engine
from core.models import OutboxJob, Role, StatusEvent
from credit_profile.models import Borrower
from matching.models import Lead, Need, NeedStatus
from matching.needs import NeedInput, submit_need
from portal.app import create_app
from portal.worker import QUEUE_NAME, relay_outbox, requeue_abandoned_jobs
from tests.conftest import DATABASE_URL, IS_POSTGRES, TEST_DATA_KEY, make_settings
from tests.counts import report
from tests.factories import BorrowerFactory, InstitutionFactory, ProductFactory, bind_factories
from tests.portal.api_helpers import PASSWORD

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _market(factory: sessionmaker, banks: int = 2) -> int:
    """Published products at `banks` banks and an applicant; returns the applicant's borrower id."""
    with factory() as s:
        bind_factories(s)
        for i in range(banks):
            ProductFactory(
                institution=InstitutionFactory(code=f"FAULT{i}", name=f"故障测试银行{i}"),
                name=f"故障贷{i}",
                published=True,
            )
        borrower = BorrowerFactory(name="故障测试企业")
        create_user(
            s,
            username="fault_applicant",
            password=PASSWORD,
            role=Role.APPLICANT,
            phone="13907960001",
            borrower_id=borrower.id,
        )
        s.commit()
        return borrower.id


def _descendants(pid: int) -> list[int]:
    """Every process below pid (rq puts its work horse in a session of its own, out of the group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def crash(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and everything it started at once, as a machine or container dying would."""
    for pid in [proc.pid, *_descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DATA_KEY")}
    env.update(DATABASE_URL=DATABASE_URL, REDIS_URL=redis_url, DATA_KEY=TEST_DATA_KEY, **extra)
    return env


def _burst_worker(redis_url: str) -> None:
    """What an operator runs when things are back: a real worker process, in burst mode."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=_env(redis_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _match_effects(factory: sessionmaker, need_id: int) -> dict[str, object]:
    with factory() as s:
        return {
            "status": s.scalar(select(Need.status).where(Need.id == need_id)),
            "leads": s.scalar(select(func.count()).where(Lead.need_id == need_id)),
            "matched_events": s.scalar(
                select(func.count()).where(StatusEvent.need_id == need_id, StatusEvent.to_status == "matched")
            ),
            "pushed_events": s.scalar(
                select(func.count()).where(StatusEvent.need_id == need_id, StatusEvent.to_status == "pushed")
            ),
        }


@pytest.mark.parametrize("kill_point", ["before_commit", "after_commit"])
def test_worker_killed_mid_job_reruns_it_and_the_effect_happens_once(
    committed_db, redis_url, kill_point, tmp_path
):
    _engine, factory = committed_db
    borrower_id = _market(factory)
    with factory() as s:
        need = submit_need(
            s,
            borrower_id=borrower_id,
            actor_id=None,
            data=NeedInput(
                amount=Decimal(300000),
                term_months=12,
                purpose="周转",
                collateral="credit",
                declared_prior_loan=False,
            ),
        )
        s.commit()
        need_id = need.id
        outbox_id = s.scalar(select(OutboxJob.id).where(OutboxJob.name == "match_need"))
    settings = make_settings(redis_url=redis_url)
    assert relay_outbox(factory, settings) == 1

    flag = f"jihuitong:test:fault:{kill_point}"
    redis = Redis.from_url(redis_url)
    log = tmp_path / "fault_worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "tests/portal/fault_worker.py"],
            cwd=ROOT,
            env=_env(redis_url, FAULT_MODE=kill_point, FAULT_FLAG=flag, PYTHONPATH=str(ROOT)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while redis.get(flag) is None:
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker never reached the fault point"
            time.sleep(0.05)
    finally:
        crash(proc)

    q = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)
    assert f"outbox-{outbox_id}" in StartedJobRegistry(queue=q).get_job_ids(cleanup=False)
    before = _match_effects(factory, need_id)
    if kill_point == "before_commit":
        assert before == {"status": "submitted", "leads": 0, "matched_events": 0, "pushed_events": 0}
    else:
        assert before["status"] == "matched" and before["leads"] == 2

    _burst_worker(redis_url)  # starts by requeueing what the dead worker held, then runs it

    after = _match_effects(factory, need_id)
    assert after == {"status": NeedStatus.MATCHED, "leads": 2, "matched_events": 1, "pushed_events": 2}
    with factory() as s:
        assert s.get(OutboxJob, outbox_id).attempts == 2  # it really ran twice
        assert verify_chain(s).ok
    assert StartedJobRegistry(queue=q).get_job_ids(cleanup=False) == []


def test_stale_jobs_of_a_dead_worker_are_requeued_at_once(redis_url):
    """Not after rq's heartbeat expiry: a new worker on the same host sees the old one's pid is gone."""
    redis = Redis.from_url(redis_url)
    q = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    worker = Worker([q], connection=redis, serializer=JSONSerializer, name="dead-worker")
    worker.register_birth()
    redis.hset(worker.key, "pid", dead.pid)
    job = q.enqueue("portal.worker.execute_outbox_job", 1, job_id="outbox-stale")
    q.pop_job_id()
    job.prepare_for_execution(worker.name, redis.pipeline())
    with redis.pipeline() as pipe:
        job.prepare_for_execution(worker.name, pipe)
        worker.prepare_execution(job)  # registers the job in the started registry
        pipe.execute()
    alive = Worker([q], connection=redis, serializer=JSONSerializer, name="live-worker")
    alive.register_birth()  # this process: alive, must not be touched
    registry = StartedJobRegistry(queue=q)
    assert registry.get_job_ids(cleanup=False) == ["outbox-stale"]
    assert len(job.get_executions()) == 1
    gone = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer).enqueue("builtins.len", "x")
    q.pop_job_id()
    with redis.pipeline() as pipe:
        gone.prepare_for_execution(worker.name, pipe)
        worker.prepare_execution(gone)
        pipe.execute()
    redis.delete(gone.key)  # a started job whose hash expired: its registry entry stays behind
    assert sorted(registry.get_job_ids(cleanup=False)) == sorted(["outbox-stale", gone.id])

    assert requeue_abandoned_jobs(make_settings(redis_url=redis_url)) == ["outbox-stale"]
    assert registry.get_job_ids(cleanup=False) == []
    assert q.job_ids == ["outbox-stale"]
    # Through rq's own execution cleanup, not a bare ZREM: the dead run's record is gone with its entry.
    assert job.get_executions() == []
    assert requeue_abandoned_jobs(make_settings(redis_url=redis_url)) == []


@pytest.fixture
def fault_app(committed_db):
    """An app over committed data with an engine of its own, named so that its connections can be found."""

    def build(**overrides):
        connect_args = {"application_name": "jihuitong-fault"} if IS_POSTGRES else {}
        engine = (
            make_engine(DATABASE_URL, connect_args=connect_args)
            if connect_args
            else make_engine(DATABASE_URL)
        )
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        return create_app(make_settings(**overrides), session_factory=factory), engine

    return build


def test_redis_down_needs_are_stored_then_matched_once_redis_is_back(committed_db, redis_url, fault_app):
    _engine, factory = committed_db
    _market(factory)
    app, engine = fault_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    client = app.test_client()
    response = client.post("/api/v1/auth/token", json={"username": "fault_applicant", "password": PASSWORD})
    assert response.status_code == 200, response.get_json()  # rate limiting must not need Redis either
    headers = {"Authorization": f"Bearer {response.get_json()['token']}"}
    codes, need_ids = [], []
    for i in range(3):  # an applicant may have at most three open needs
        response = client.post(
            "/api/v1/needs",
            json={
                "amount": 100000 + i,
                "term_months": 12,
                "purpose": f"第{i}笔",
                "collateral": "credit",
                "declared_prior_loan": False,
            },
            headers=headers,
        )
        codes.append(response.status_code)
        assert response.status_code in (201, 503), response.get_data(as_text=True)
        body = response.get_json()
        if response.status_code == 503:
            assert body["error"]["code"] == "service_unavailable"
        else:
            assert body["status"] == "submitted"
            need_ids.append(body["id"])
    report(
        "faults", "needs submitted while Redis was down (201/503)", f"{codes.count(201)}/{codes.count(503)}"
    )
    assert codes.count(201) == 3
    with factory() as s:
        pending = s.scalars(select(OutboxJob).where(OutboxJob.enqueued_at.is_(None))).all()
        assert len(pending) == 3 and "Connection refused" in (pending[0].last_error or "")

    settings = make_settings(redis_url=redis_url)
    assert relay_outbox(factory, settings) == 3  # `flask relay-outbox`, or any worker starting
    _burst_worker(redis_url)
    for need_id in need_ids:
        effects = _match_effects(factory, need_id)
        assert effects == {"status": "matched", "leads": 2, "matched_events": 1, "pushed_events": 2}
    engine.dispose()


@pytest.mark.skipif(not IS_POSTGRES, reason="pg_terminate_backend is PostgreSQL's")
def test_killed_database_connection_fails_one_request_cleanly_then_recovers(
    committed_db, fault_app, monkeypatch
):
    _engine, factory = committed_db
    _market(factory)
    with factory() as s:
        user = s.scalar(select(Borrower.id))
        applicant = s.scalar(select(Borrower).where(Borrower.id == user))
        from core.models import User

        account = s.scalar(select(User).where(User.borrower_id == applicant.id))
        secret, _row = open_session(s, account, kind="api", ttl=dt.timedelta(hours=1))
        s.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    app, engine = fault_app()
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    admin = make_engine(DATABASE_URL)

    def kill(pid_filter: str) -> int:
        with admin.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                        f"'jihuitong-fault' AND {pid_filter}"
                    )
                ).all()
            )

    from portal.api import accounts
    from portal.db import db

    real = accounts.get_borrower

    def killed_mid_request(session, borrower_id):
        pid = db().connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert kill(f"pid = {pid}") == 1
        return real(session, borrower_id)

    monkeypatch.setattr(accounts, "get_borrower", killed_mid_request)
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    monkeypatch.setattr(accounts, "get_borrower", real)
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    # An idle pooled connection killed between requests: pool_pre_ping replaces it unnoticed.
    assert kill("true") >= 1
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    engine.dispose()
    admin.dispose()
