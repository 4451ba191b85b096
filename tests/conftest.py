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
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
# Under pytest-xdist (`-n 2`, as scripts/test runs the suite) each worker is a process of its own: "gw0",
# "gw1", ...; None in a serial run and in the controller.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# One database per test process, so that concurrent runs, and the workers of one run, never share a schema.
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


def _worker_database_url(url: str) -> str:
    """A database given by TEST_DATABASE_URL, made one per xdist worker: `name_gw0`, `test_gw0.db`."""
    if WORKER is None:
        return url
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        return f"sqlite:///{path.with_name(f'{path.stem}_{WORKER}{path.suffix}')}"
    return f"{url}_{WORKER}"


def _postgres_url() -> str | None:
    """The test database's URL if its PostgreSQL server answers; the database is made by `engine`, so that
    a process that runs no test (the controller of an xdist run) leaves none behind."""
    url = _worker_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    if url.startswith("sqlite"):
        return None
    try:
        admin = create_engine(url.rsplit("/", 1)[0] + "/postgres")
        with admin.connect():
            pass
        admin.dispose()
    except OperationalError as exc:
        if REQUIRE_SERVICES:
            raise RuntimeError(f"PostgreSQL required (REQUIRE_SERVICES=1) but unreachable: {exc}") from exc
        return None
    return url


def _create_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _claim_redis_database(server: str) -> str:
    """redis://.../N for the highest database no other live test run has claimed."""
    for number in range(15, 0, -1):
        url = f"{server}/{number}"
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


def _redis_reachable() -> bool:
    try:
        Redis.from_url(os.environ.get("TEST_REDIS_URL") or REDIS_SERVER, socket_connect_timeout=1).ping()
    except RedisError as exc:
        if REQUIRE_SERVICES:
            raise RuntimeError(f"Redis required (REQUIRE_SERVICES=1) but unreachable: {exc}") from exc
        return False
    return True


_TMP = Path(tempfile.mkdtemp(prefix="jihuitong-test-"))
_GIVEN_SQLITE = os.environ.get("TEST_DATABASE_URL", "").startswith("sqlite")
DATABASE_URL = (
    _postgres_url()
    or (_worker_database_url(os.environ["TEST_DATABASE_URL"]) if _GIVEN_SQLITE else None)
    or f"sqlite:///{_TMP / 'test.db'}"
)
IS_POSTGRES = DATABASE_URL.startswith("postgresql")
# Dropped at the end of the run: the database this process named for itself (per pid, or per worker of a
# TEST_DATABASE_URL), never one given whole by TEST_DATABASE_URL to a serial run.
_OWN_DATABASE = IS_POSTGRES and ("TEST_DATABASE_URL" not in os.environ or WORKER is not None)
REDIS_AVAILABLE = _redis_reachable()
# The Redis database this process claimed, on the first test that needs one (see `redis_url`).
_claimed_redis: list[str] = []
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _redis_database() -> str:
    """TEST_REDIS_URL in a serial run; else a database claimed on its server (or on REDIS_SERVER), so that
    the workers of an xdist run never flush each other's."""
    test_url = os.environ.get("TEST_REDIS_URL")
    if test_url and WORKER is None:
        return test_url
    if not _claimed_redis:
        server = urlsplit(test_url)._replace(path="").geturl() if test_url else REDIS_SERVER
        _claimed_redis.append(_claim_redis_database(server))
    return _claimed_redis[0]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if config.getoption("numprocesses", None):
        # The controller of an xdist run, which runs no test: each worker makes its own database and claims
        # its own Redis database (a pid-named database, or TEST_DATABASE_URL's name with `_gw0`, `_gw1`).
        return [
            "database: one per xdist worker" + (" (PostgreSQL)" if IS_POSTGRES else " (SQLite)"),
            "redis: "
            + ("a database claimed by each worker" if REDIS_AVAILABLE else "not available (in-process jobs)"),
        ]
    redis = os.environ.get("TEST_REDIS_URL") or f"{REDIS_SERVER}, a database claimed by this run"
    return [
        f"database: {DATABASE_URL.split('@')[-1]}",
        f"redis: {redis if REDIS_AVAILABLE else 'not available (in-process jobs)'}",
    ]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker hands its counts (tests/counts.py) to the controller, which prints them; it and a serial
    run release the Redis database they claimed (atexit may not run in an xdist worker)."""
    from tests.counts import REPORTED

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["counts"] = [
            [topic, what, value if isinstance(value, int | float | str) else str(value)]
            for topic, what, value in REPORTED
        ]
    elif os.environ.get("KEEP_BROWSER_ARTIFACTS") == "0":
        # Here, not in a browser module's teardown: under xdist another worker may still be screenshotting.
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
    for url in _claimed_redis:
        _release_redis_database(url)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """In the controller of an xdist run: gather a finished worker's counts for the summary."""
    from tests.counts import REPORTED

    REPORTED.extend(tuple(row) for row in getattr(node, "workeroutput", {}).get("counts", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the stress and fuzz tests counted (tests/counts.py), even under `pytest -q` and `-n 2`."""
    from tests.counts import REPORTED

    if not REPORTED:
        return
    terminalreporter.write_sep("-", "stress and fuzz counts")
    # By topic, each topic's lines in the order counted: the same order however files went to workers.
    for topic, what, value in sorted(REPORTED, key=lambda row: str(row[0])):
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
    if IS_POSTGRES:
        _create_database(DATABASE_URL)
    engine = make_engine(DATABASE_URL)
    reset_schema(engine)
    yield engine
    engine.dispose()
    if _OWN_DATABASE:
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
    if not REDIS_AVAILABLE:
        pytest.skip("Redis not reachable (set REQUIRE_SERVICES=1 to make this a failure)")
    url = _redis_database()
    connection = Redis.from_url(url)
    connection.flushdb()
    connection.set(REDIS_CLAIM_KEY, os.getpid(), ex=REDIS_CLAIM_SECONDS)  # flushdb took the claim too
    return url
