"""core.lanes: statements side by side on connections that read the caller's committed state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import lanes
from tests.conftest import IS_POSTGRES

PROBE = "lane_probe"


@pytest.fixture
def probe(committed_db: Any) -> Iterator[tuple[Any, Any]]:
    engine, factory = committed_db
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {PROBE} (n integer)"))
        conn.execute(text(f"INSERT INTO {PROBE} VALUES (1), (2)"))
    yield engine, factory
    lanes.dispose()
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {PROBE}"))


def _identity(session: Session) -> tuple[Any, ...]:
    return tuple(
        session.execute(
            text(
                "SELECT pg_backend_pid(), current_setting('transaction_isolation'),"
                " current_setting('transaction_read_only'), current_setting('work_mem')"
            )
        ).one()
    )


@pytest.mark.skipif(not IS_POSTGRES, reason="lanes are PostgreSQL's")
def test_each_task_runs_on_a_read_only_connection_of_its_own(probe):
    _engine, factory = probe
    # Each task holds its connection until all three have one: a lane that finished first would hand its
    # pooled connection to the next, which says nothing about the lanes (seen under a loaded machine).
    together = threading.Barrier(3)

    def identity_together(lane: Session) -> tuple[Any, ...]:
        found = _identity(lane)
        together.wait(timeout=30)
        return found

    with factory() as session:
        caller = session.scalar(text("SELECT pg_backend_pid()"))
        results = lanes.in_lanes(
            session, [identity_together] * 3, prepare=lambda s: s.execute(text("SET LOCAL work_mem = '7MB'"))
        )
    pids = {pid for pid, *_rest in results}
    assert caller not in pids and len(pids) == 3
    assert {tuple(rest) for _pid, *rest in results} == {("repeatable read", "on", "7MB")}


@pytest.mark.skipif(not IS_POSTGRES, reason="lanes are PostgreSQL's")
def test_every_lane_reads_the_callers_snapshot_not_a_commit_made_meanwhile(probe):
    engine, factory = probe
    committed = threading.Event()

    def commit_elsewhere(_lane: Session) -> int:
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {PROBE} VALUES (3)"))
        committed.set()
        return 0

    def count_after_the_commit(lane: Session) -> int:
        assert committed.wait(10)
        return int(lane.scalar(text(f"SELECT sum(n) FROM {PROBE}")))

    with factory() as session:
        before = session.scalar(text(f"SELECT sum(n) FROM {PROBE}"))
        _none, seen = lanes.in_lanes(session, [commit_elsewhere, count_after_the_commit])
        assert session.scalar(text(f"SELECT sum(n) FROM {PROBE}")) == before + 3  # read committed
    assert (before, seen) == (3, 3)


@pytest.mark.skipif(not IS_POSTGRES, reason="lanes are PostgreSQL's")
def test_a_transaction_that_wrote_runs_its_tasks_itself_and_sees_its_own_rows(probe):
    _engine, factory = probe
    with factory() as session:
        session.execute(text(f"INSERT INTO {PROBE} VALUES (10)"))
        results = lanes.in_lanes(
            session, [lambda s: (s is session, s.scalar(text(f"SELECT sum(n) FROM {PROBE}")))] * 2
        )
        session.rollback()
    assert results == [(True, 13), (True, 13)]


@pytest.mark.skipif(not IS_POSTGRES, reason="lanes are PostgreSQL's")
def test_a_lane_that_fails_raises_after_every_lane_has_ended_and_returns_its_connection(probe):
    _engine, factory = probe
    finished = []

    def fail(_lane: Session) -> None:
        raise ZeroDivisionError

    def slow(lane: Session) -> None:
        lane.execute(text("SELECT pg_sleep(0.2)"))
        finished.append(True)

    with factory() as session, pytest.raises(ZeroDivisionError):
        lanes.in_lanes(session, [fail, slow])
    assert finished == [True]
    [engine] = lanes._engines.values()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with factory() as session:  # the lanes still work
        assert lanes.in_lanes(session, [lambda s: 1, lambda s: 2]) == [1, 2]


@pytest.mark.skipif(not IS_POSTGRES, reason="lanes are PostgreSQL's")
def test_a_task_inside_a_lane_does_not_open_lanes_of_its_own(probe):
    _engine, factory = probe

    def nested(lane: Session) -> list[bool]:
        return lanes.in_lanes(lane, [lambda s: s is lane, lambda s: s is lane])

    with factory() as session:
        assert lanes.in_lanes(session, [nested, nested]) == [[True, True], [True, True]]


def test_on_sqlite_or_for_one_task_the_callers_session_runs_them(session):
    results = lanes.in_lanes(session, [lambda s: s is session])
    assert results == [True]
    if not IS_POSTGRES:
        assert lanes.in_lanes(session, [lambda s: s is session] * 3) == [True] * 3
