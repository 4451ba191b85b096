"""Table imports as a job (credit_profile.imports): checked fully before any write, staged in short
transactions that leave other writers unblocked, published all at once, retried without doubling."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import func, select, text

from core.models import OutboxJob, StatusEvent
from core.runtime import committing
from credit_profile import imports
from credit_profile.imports import run_import, submit_import
from credit_profile.models import ConsentUse, DataImport, DataRecord, ImportStatus, StagedRecord
from tests.credit_profile.helpers import month
from tests.factories import BorrowerFactory, ConsentFactory, bind_factories


@pytest.fixture
def world(committed_db):
    """Committed borrowers with tax consents, and a session factory whose blocks commit (as jobs')."""
    _engine, factory = committed_db

    def sessions():
        return committing(factory)

    with factory() as session:
        bind_factories(session)
        borrowers = [BorrowerFactory() for _ in range(40)]
        for borrower in borrowers:
            ConsentFactory(borrower_id=borrower.id, sources=["tax"])
        session.commit()
        codes = [b.uscc for b in borrowers]
    return factory, sessions, codes


def _csv(codes, months: int = 6, bad_row: int | None = None) -> bytes:
    lines = ["uscc,period,sales,tax_paid,credit_rating,arrears"]
    for code in codes:
        for back in range(1, months + 1):
            lines.append(f"{code},{month(back)},50000,1500,A,否")
    if bad_row is not None:
        lines[bad_row - 1] = lines[bad_row - 1].replace("50000", "五万")
    return "\n".join(lines).encode()


def _submit(factory, content: bytes) -> int:
    with factory() as session:
        data_import = submit_import(session, "tax", "tax.csv", content, actor_id=None)
        session.commit()
        return data_import.id


def _count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_an_import_publishes_every_row_once_with_progress_and_then_rescoring(world, monkeypatch):
    factory, sessions, codes = world
    monkeypatch.setattr(imports, "CHUNK_ROWS", 50)
    import_id = _submit(factory, _csv(codes))
    seen: list[tuple[str, int, int]] = []
    original = imports.stage_chunk

    def watched(session, import_id_, chunk):
        # Before this chunk's session runs anything (the previous chunk has committed), another
        # connection reads what the status resource shows meanwhile.
        with factory() as reader:
            row = reader.get(DataImport, import_id_)
            seen.append((row.status, row.rows_checked, row.rows_staged))
            assert reader.scalar(select(func.count()).select_from(DataRecord)) == 0  # staged is invisible
        original(session, import_id_, chunk)

    monkeypatch.setattr(imports, "stage_chunk", watched)
    assert run_import(sessions, import_id) == ImportStatus.PUBLISHED
    with factory() as session:
        done = session.get(DataImport, import_id)
        assert (done.rows_total, done.rows_checked, done.rows_staged, done.imported) == (240, 240, 240, 240)
        assert done.content is None
    # Progress moved: checked in full first, then staged chunk by chunk.
    assert [s[1] for s in seen] == [240] * 5 and [s[2] for s in seen] == [0, 50, 100, 150, 200]
    assert seen[0][0] == ImportStatus.CHECKING and seen[1][0] == ImportStatus.STAGING
    assert _count(factory, DataRecord) == 240 and _count(factory, StagedRecord) == 0
    assert _count(factory, ConsentUse) == 240
    with factory() as session:
        rescoring = session.scalar(select(func.count()).where(OutboxJob.name == "recompute_score"))
        receipts = session.scalar(select(func.count()).where(StatusEvent.entity_type == "consent_uses"))
    assert rescoring == 40 and receipts == 1


def test_a_failure_in_the_last_chunk_leaves_nothing(world, monkeypatch):
    factory, sessions, codes = world
    monkeypatch.setattr(imports, "CHUNK_ROWS", 50)
    import_id = _submit(factory, _csv(codes))
    original, calls = imports.stage_chunk, []

    def failing(session, import_id_, chunk):
        calls.append(len(chunk))
        if len(calls) == 5:
            raise RuntimeError("disk full")
        original(session, import_id_, chunk)

    monkeypatch.setattr(imports, "stage_chunk", failing)
    assert run_import(sessions, import_id) == ImportStatus.FAILED
    assert _count(factory, DataRecord) == 0 and _count(factory, StagedRecord) == 0
    assert _count(factory, ConsentUse) == 0
    with factory() as session:
        assert session.get(DataImport, import_id).errors == {"file": ["import_failed"]}


def test_a_bad_row_fails_the_import_before_anything_is_written(world, monkeypatch):
    factory, sessions, codes = world
    monkeypatch.setattr(imports, "CHUNK_ROWS", 50)
    import_id = _submit(factory, _csv(codes, bad_row=241))  # the last row
    staged = []
    monkeypatch.setattr(imports, "stage_chunk", lambda *args: staged.append(args))
    assert run_import(sessions, import_id) == ImportStatus.FAILED
    assert staged == []
    with factory() as session:
        assert session.get(DataImport, import_id).errors == {"row 241": ["sales:invalid_number"]}


def test_a_crashed_job_run_again_does_not_double_rows(world, monkeypatch):
    factory, sessions, codes = world
    monkeypatch.setattr(imports, "CHUNK_ROWS", 50)
    import_id = _submit(factory, _csv(codes))
    original, calls = imports.stage_chunk, []

    def crash(session, import_id_, chunk):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("worker killed")  # not an Exception: nothing cleans up, as after a kill
        original(session, import_id_, chunk)

    monkeypatch.setattr(imports, "stage_chunk", crash)
    with pytest.raises(SystemExit):
        run_import(sessions, import_id)
    assert _count(factory, StagedRecord) == 100 and _count(factory, DataRecord) == 0
    monkeypatch.setattr(imports, "stage_chunk", original)
    assert run_import(sessions, import_id) == ImportStatus.PUBLISHED
    assert run_import(sessions, import_id) == ImportStatus.PUBLISHED  # a third run changes nothing
    assert _count(factory, DataRecord) == 240 and _count(factory, StagedRecord) == 0
    assert _count(factory, ConsentUse) == 240


def test_another_user_writes_while_a_big_import_runs(world, monkeypatch):
    """On SQLite one writer at a time: the import holds the write lock for one chunk, never for the
    whole import, so another session's write commits between two chunks."""
    factory, sessions, codes = world
    monkeypatch.setattr(imports, "CHUNK_ROWS", 50)
    import_id = _submit(factory, _csv(codes))
    original, calls = imports.stage_chunk, []
    staged_some, other_wrote = threading.Event(), threading.Event()

    def pausing(session, import_id_, chunk):
        calls.append(1)
        if len(calls) == 3:
            # Two chunks are staged and committed; this chunk's session has run nothing yet. Were the
            # import one transaction, the lock taken by the first chunk would still be held here.
            staged_some.set()
            other_wrote.wait(timeout=30)
        original(session, import_id_, chunk)

    def patient_run():
        with contextlib.suppress(Exception):
            run_import(sessions, import_id)

    monkeypatch.setattr(imports, "stage_chunk", pausing)
    worker = threading.Thread(target=patient_run)
    worker.start()
    assert staged_some.wait(timeout=30)
    with factory() as other:
        if other.get_bind().dialect.name == "sqlite":
            other.execute(text("PRAGMA busy_timeout=2000"))  # fail fast instead of queueing 10 s
        else:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
        other.execute(
            text("UPDATE data_imports SET filename = 'renamed.csv' WHERE id = :id"), {"id": import_id}
        )
        other.commit()
    other_wrote.set()
    worker.join(timeout=60)
    with factory() as session:
        done = session.get(DataImport, import_id)
        assert done.status == ImportStatus.PUBLISHED and done.filename == "renamed.csv"
    assert _count(factory, DataRecord) == 240
