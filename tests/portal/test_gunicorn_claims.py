"""64 officers claim one lead over HTTP against gunicorn with 2 worker processes: one 200, 63 × 409.

The server is started by the test on a free port of 127.0.0.1, against a scratch PostgreSQL database
migrated by alembic, and stopped afterwards.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.accounts import open_session
from core.audit import verify_chain
from core.db import make_engine
from core.models import User
from matching.models import Lead, LeadStatus
from portal.cli import alembic_config
from tests.conftest import DATABASE_URL, IS_POSTGRES, TEST_DATA_KEY
from tests.counts import report
from tests.factories import (
    BorrowerFactory,
    InstitutionFactory,
    LeadFactory,
    ProductFactory,
    UserFactory,
    bind_factories,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not IS_POSTGRES, reason="runs against a scratch PostgreSQL database"),
]
ROOT = Path(__file__).resolve().parents[2]
OFFICERS = 64


@pytest.fixture
def scratch_database():
    base, _name = DATABASE_URL.rsplit("/", 1)
    name = f"jihuitong_gunicorn_{os.getpid()}"
    admin = make_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = f"{base}/{name}"
    command.upgrade(alembic_config(url), "head")
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _seed(url: str) -> tuple[int, list[str]]:
    engine = make_engine(url)
    with Session(engine) as s:
        bind_factories(s)
        bank = InstitutionFactory(code="GUNI", name="并发测试银行")
        product = ProductFactory(institution=bank, name="并发贷", published=True)
        lead = LeadFactory(product=product, need__borrower=BorrowerFactory(name="并发测试企业"))
        officers = [
            UserFactory(username=f"http_officer{i}", officer=True, institution_id=bank.id)
            for i in range(OFFICERS)
        ]
        tokens = [open_session(s, o, kind="api", ttl=dt.timedelta(hours=1))[0] for o in officers]
        s.commit()
        lead_id = lead.id
    engine.dispose()
    return lead_id, tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(port: int, method: str, path: str, token: str | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@pytest.fixture
def gunicorn(scratch_database, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(DATABASE_URL=scratch_database, DATA_KEY=TEST_DATA_KEY, SECRET_KEY="gunicorn-test-secret")
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "8",
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if _request(port, "GET", "/api/v1/reference/regions")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not come up"
            time.sleep(0.2)
        yield proc, port, scratch_database
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == master:
                pids.append(int(entry.name))
    return pids


def test_sixty_four_concurrent_http_claims_one_winner(gunicorn):
    proc, port, url = gunicorn
    lead_id, tokens = _seed(url)
    assert len(_worker_pids(proc.pid)) == 2
    barrier = threading.Barrier(OFFICERS)
    results: list[tuple[int, dict, int]] = []
    lock = threading.Lock()

    def claim(index: int) -> None:
        barrier.wait(timeout=60)
        status, body = _request(port, "POST", f"/api/v1/leads/{lead_id}/claim", tokens[index])
        with lock:
            results.append((status, body, index))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(OFFICERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(status for status, _body, _i in results)
    report("gunicorn claims", "HTTP claims (200 / 409)", f"{codes.count(200)} / {codes.count(409)}")
    assert codes == [200] + [409] * (OFFICERS - 1)
    assert {body["error"]["code"] for status, body, _i in results if status == 409} == {"already_claimed"}
    (winner,) = [i for status, _body, i in results if status == 200]

    engine = make_engine(url)
    with Session(engine) as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and lead.status == LeadStatus.CLAIMED
        claimant = s.get(User, lead.claimed_by)
        assert claimant is not None and claimant.username == f"http_officer{winner}"
        assert verify_chain(s).ok
    engine.dispose()
