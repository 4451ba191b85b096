"""The status-event audit trail is hash-chained, append-only, and `audit verify` finds tampering."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core.audit import GENESIS_HASH, event_hash, verify_chain
from core.events import record_event
from core.models import StatusEvent
from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.smoke


def _events(session, n: int, entity_id: int = 1) -> None:
    for i in range(n):
        record_event(session, entity_type="need", entity_id=entity_id, to_status=f"s{i}", note=f"第{i}步")
    session.commit()


def _chain(session):
    return session.execute(
        select(StatusEvent.chain_seq, StatusEvent.prev_hash, StatusEvent.hash).order_by(StatusEvent.chain_seq)
    ).all()


def _tamper(session, sql: str, **params) -> None:
    """Change the table behind the application's back (on PostgreSQL, as a superuser past the trigger)."""
    if IS_POSTGRES:
        session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(text(sql), params)
    if IS_POSTGRES:
        session.execute(text("SET LOCAL session_replication_role = origin"))


def test_commit_seals_events_into_a_chain(session):
    _events(session, 5)
    chain = _chain(session)
    assert [seq for seq, _p, _h in chain] == [1, 2, 3, 4, 5]
    assert chain[0][1] == GENESIS_HASH
    assert all(chain[i][1] == chain[i - 1][2] for i in range(1, 5))
    report = verify_chain(session)
    assert report.ok and report.rows == 5 and report.head_hash == chain[-1][2]
    first = session.execute(select(StatusEvent.__table__).where(StatusEvent.chain_seq == 1)).mappings().one()
    assert event_hash(first, chain_seq=1, prev_hash=GENESIS_HASH) == first["hash"]


def test_events_are_sealed_only_on_the_outer_commit(session):
    record_event(session, entity_type="need", entity_id=1, to_status="submitted")
    with session.begin_nested():
        record_event(session, entity_type="need", entity_id=1, to_status="matched")
    assert session.scalar(select(func.count()).where(StatusEvent.hash.is_not(None))) == 0
    session.commit()
    assert session.scalar(select(func.count()).where(StatusEvent.hash.is_(None))) == 0


def test_cli_verify_passes_then_detects_an_edited_row(runner, session):
    _events(session, 4)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "审计链完整" in ok.output
    _tamper(session, "UPDATE status_events SET note = '改过的备注' WHERE chain_seq = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "内容被修改 #2" in result.output
    assert [p.kind for p in verify_chain(session).problems] == ["edited"]


def test_cli_verify_detects_a_deleted_row(runner, session):
    _events(session, 4)
    _tamper(session, "DELETE FROM status_events WHERE chain_seq = 3")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "缺失 #3" in result.output
    assert {p.kind for p in verify_chain(session).problems} == {"missing", "broken_link"}


def test_rehashing_an_edited_row_still_breaks_the_next_link(session):
    _events(session, 3)
    row = session.execute(select(StatusEvent.__table__).where(StatusEvent.chain_seq == 2)).mappings().one()
    forged = dict(row, to_status="disbursed")
    _tamper(
        session,
        "UPDATE status_events SET to_status = 'disbursed', hash = :h WHERE chain_seq = 2",
        h=event_hash(forged, chain_seq=2, prev_hash=row["prev_hash"]),
    )
    problems = verify_chain(session).problems
    assert [(p.kind, p.chain_seq) for p in problems] == [("broken_link", 3)]


def test_rows_written_around_the_service_are_reported(session):
    _events(session, 1)
    session.execute(
        text(
            "INSERT INTO status_events (at, entity_type, entity_id, to_status) VALUES (:at, 'need', 9, 'x')"
        ),
        {"at": "2026-01-01 00:00:00"},
    )
    assert [p.kind for p in verify_chain(session).problems] == ["unsealed"]


@pytest.mark.skipif(not IS_POSTGRES, reason="the append-only trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "sql", ["UPDATE status_events SET note = 'x' WHERE chain_seq = 1", "DELETE FROM status_events"]
)
def test_postgres_refuses_to_change_or_delete_sealed_rows(session, sql):
    _events(session, 2)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(sql))


@pytest.mark.slow
def test_concurrent_writers_never_fork_the_chain(committed_db):
    _engine, factory = committed_db
    writers, per_writer = 8, 15
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        barrier.wait()
        for i in range(per_writer):
            try:
                with factory() as s:
                    record_event(s, entity_type="need", entity_id=n, to_status=f"s{i}")
                    record_event(s, entity_type="lead", entity_id=n, to_status=f"s{i}")
                    s.commit()
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        report = verify_chain(s)
        assert report.ok, report.problems[:5]
        assert report.rows == report.head_seq == writers * per_writer * 2
