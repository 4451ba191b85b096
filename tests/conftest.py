"""Test harness: real PostgreSQL and Redis where reachable (required with REQUIRE_SERVICES=1), else SQLite.

Without Redis no worker thread runs under TESTING; instead the jobs a commit wrote run right after it, in
the test's thread (`jobs_run_at_commit`), so that a test sees their effects at once. The app itself never
does this: tests of the worker thread restore `JOBS_COMMITTED` (the real hand-over). The schema is built by
`alembic upgrade head` once per run; each test runs inside a transaction that is
rolled back at the end (the portal's commits become savepoint releases). Tests that need real commits
from several connections (concurrency, workers) use the `committed_db` fixture instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core import crypto
from core.db import Base, make_engine
from core.settings import Settings
from portal import worker
from portal.app import create_app
from portal.cli import alembic_config
from tests.factories import bind_factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
# One database per test run, so that concurrent runs on one machine never share a schema.
DEFAULT_PG = f"postgresql+psycopg://postgres@127.0.0.1:5432/jihuitong_test_{os.getpid()}"
REDIS_SERVER = "redis://127.0.0.1:6379"
# Each run claims a Redis database of its own (15 down to 1) with this key, so that two suites on one
# machine never flush or take each other's jobs; the claim expires if a run dies without releasing it.
REDIS_CLAIM_KEY = "jihuitong:test-run"
REDIS_CLAIM_SECONDS = 4 * 3600
# A fixed data key for the suite (never used outside tests); installed at import so that factories
# writing encrypted columns work without an app.
TEST_DATA_KEY = "JefESS6cVuwb8vlqHRkt-rcwEWZVyO-wtbqkoVEtYNs="
crypto.configure((TEST_DATA_KEY,))


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    if url.startswith("sqlite"):
        return None
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except OperationalError as exc:
        if REQUIRE_SERVICES:
            raise RuntimeError(f"PostgreSQL required (REQUIRE_SERVICES=1) but unreachable: {exc}") from exc
        return None
    return url


def _claim_redis_database() -> str:
    """redis://.../N for the highest database no other live test run has claimed."""
    for number in range(15, 0, -1):
        url = f"{REDIS_SERVER}/{number}"
        if Redis.from_url(url, socket_connect_timeout=1).set(
            REDIS_CLAIM_KEY, os.getpid(), nx=True, ex=REDIS_CLAIM_SECONDS
        ):
            atexit.register(_release_redis_database, url)
            return url
    raise RuntimeError("every Redis database 1-15 is claimed by another test run; set TEST_REDIS_URL")


def _release_redis_database(url: str) -> None:
    with contextlib.suppress(RedisError):
        connection = Redis.from_url(url, socket_connect_timeout=1)
        if connection.get(REDIS_CLAIM_KEY) == str(os.getpid()).encode():
            connection.delete(REDIS_CLAIM_KEY)


def _redis_url() -> str | None:
    try:
        url = os.environ.get("TEST_REDIS_URL") or _claim_redis_database()
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except RedisError as exc:
        if REQUIRE_SERVICES:
            raise RuntimeError(f"Redis required (REQUIRE_SERVICES=1) but unreachable: {exc}") from exc
        return None
    return url


_TMP = Path(tempfile.mkdtemp(prefix="jihuitong-test-"))
DATABASE_URL = _postgres_url() or os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"
REDIS_URL = _redis_url()
IS_POSTGRES = DATABASE_URL.startswith("postgresql")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"database: {DATABASE_URL.split('@')[-1]}",
        f"redis: {REDIS_URL or 'not available (in-process jobs)'}",
    ]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the stress and fuzz tests counted (tests/counts.py), even under `pytest -q`."""
    from tests.counts import REPORTED

    if not REPORTED:
        return
    terminalreporter.write_sep("-", "stress and fuzz counts")
    for topic, what, value in REPORTED:
        terminalreporter.write_line(f"{topic}: {what} = {value}")


def reset_schema(engine: Engine) -> None:
    """Drop everything and migrate from zero, as a fresh deployment would."""
    from alembic import command

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    with engine.begin() as conn:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


JOBS_COMMITTED = worker.jobs_committed


@pytest.fixture(autouse=True)
def jobs_run_at_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where production would wake the worker thread (none runs in tests), run the pending jobs here."""

    def run_now(factory: sessionmaker[Session], settings: Settings, thread: Any) -> None:
        if thread is None and not settings.redis_url:
            worker.run_pending(factory)
        else:
            JOBS_COMMITTED(factory, settings, thread)

    monkeypatch.setattr(worker, "jobs_committed", run_now)


@pytest.fixture(autouse=True)
def audit_anchor_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test's audit anchors (core.anchors) in a file of its own, never the repository's instance/."""
    path = tmp_path / "audit-anchors.jsonl"
    monkeypatch.setenv("AUDIT_ANCHOR_FILE", str(path))
    return path


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    engine = make_engine(DATABASE_URL)
    reset_schema(engine)
    yield engine
    engine.dispose()
    if IS_POSTGRES and "TEST_DATABASE_URL" not in os.environ:
        _drop_database(DATABASE_URL)


def _drop_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": DATABASE_URL,
        "redis_url": None,
        "secret_key": "test-secret-key",
        "data_keys": (TEST_DATA_KEY,),
        "testing": True,
        "login_rate_limit": "1000 per minute",
        "register_rate_limit": "1000 per minute",
        "api_rate_limit": "100000 per minute",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    # On SQLite core.db.make_engine emits BEGIN IMMEDIATE itself, so SAVEPOINTs nest inside this one.
    transaction = conn.begin()
    yield conn
    transaction.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    bind_factories(s)
    yield s
    s.close()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session], session: Session) -> Any:
    app = create_app(settings, session_factory=session_factory)
    app.config.update(WTF_CSRF_ENABLED=False)
    return app


@pytest.fixture
def csrf_app(settings: Settings, session_factory: sessionmaker[Session], session: Session) -> Any:
    """The app with CSRF protection on, as in production."""
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def committed_db(engine: Engine) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """Real commits visible to every connection; all tables are emptied afterwards."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    yield engine, factory
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def redis_url() -> str:
    if REDIS_URL is None:
        pytest.skip("Redis not reachable (set REQUIRE_SERVICES=1 to make this a failure)")
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    connection.set(REDIS_CLAIM_KEY, os.getpid(), ex=REDIS_CLAIM_SECONDS)  # flushdb took the claim too
    return REDIS_URL
