"""Administrators' table imports as a job: accepted in the request, checked, staged and published by
the worker in short transactions, all or nothing.

The request only reads the file (credit_profile.tables: bounded, linear, no database) so that a broken
file is refused at once, stores it as a `DataImport` and queues `run_import` through the outbox. The
job then works in phases, each chunk of CHUNK_ROWS rows in a transaction of its own, so that on SQLite
the single write lock is held for one chunk at a time and every other user's writes go in between:

1. check every row (reads only; `ingestion.RowCheck`, the provider API's codes and consent rule). Any
   error fails the import with the rows' errors, and nothing has been written;
2. stage the valid rows as `StagedRecord`s under the import's id: written, but read by nobody;
3. publish: one short transaction updates and inserts `data_records` from the staged rows with two
   set-based statements, records each row as a use of its consent (receipted on the audit chain),
   queues the borrowers' rescoring (only now, after the data is there) and deletes the staged rows.

A failure while staging deletes what was staged; a crash leaves staged rows nobody reads, and the job,
run again by the outbox, deletes them and starts over, so a retried job never doubles a row. A consent
ended between the check and the publish fails the import at publish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import String, Table, and_, delete, exists, insert, literal, select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.outbox import add_job, add_jobs
from core.types import UTCDateTime, utcnow
from credit_profile.ingestion import RowCheck
from credit_profile.models import (
    Consent,
    ConsentStatus,
    ConsentUse,
    DataImport,
    DataRecord,
    ImportStatus,
    StagedRecord,
)
from credit_profile.receipts import note_uses
from credit_profile.rescoring import RESCORE_JOB
from credit_profile.tables import COLUMNS as SOURCE_FIELDS
from credit_profile.tables import TableRow, read_table

log = logging.getLogger(__name__)
IMPORT_JOB = "run_data_import"
# Rows per transaction while checking and staging: small enough that a chunk holds SQLite's write
# lock for milliseconds, large enough that 50,000 rows take a hundred transactions, not thousands.
CHUNK_ROWS = 500
ID_BATCH = 500  # bounded IN lists, for SQLite's parameter limit
FINISHED = frozenset({ImportStatus.PUBLISHED, ImportStatus.FAILED})

Sessions = Callable[[], AbstractContextManager[Session]]
T = TypeVar("T")


def submit_import(
    session: Session, source: str, filename: str, content: bytes, *, actor_id: int | None
) -> DataImport:
    """Accept a table for import and queue the job that imports it.

    Raises InvalidInputError at once for what the file alone shows (credit_profile.tables.read_table:
    type, size, rows, columns, cells, missing columns); row errors come later, in the import's
    `errors`.
    """
    rows = read_table(filename, content, source)
    data_import = DataImport(
        source=source,
        filename=(filename or "")[:255],
        content=content,
        rows_total=len(rows),
        actor_id=actor_id,
        status=ImportStatus.QUEUED,
    )
    session.add(data_import)
    session.flush()
    add_job(session, IMPORT_JOB, f"{IMPORT_JOB}:{data_import.id}", import_id=data_import.id)
    return data_import


def get_import(session: Session, import_id: int) -> DataImport:
    """Raises NotFoundError."""
    data_import = session.get(DataImport, import_id)
    if data_import is None:
        raise NotFoundError("data_import")
    return data_import


def recent_imports(session: Session, *, limit: int = 20) -> list[DataImport]:
    """The latest imports, newest first (their files are not loaded)."""
    from sqlalchemy.orm import defer

    return list(
        session.scalars(
            select(DataImport).options(defer(DataImport.content)).order_by(DataImport.id.desc()).limit(limit)
        )
    )


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_import(sessions: Sessions, import_id: int) -> str:
    """Check, stage and publish the import (see the module); returns its final status.

    Safe to run twice: a finished import is left as it is, an unfinished one starts over after its
    staged rows are deleted. `sessions` opens a session that commits when its block ends.
    """
    with sessions() as session:
        data_import = session.get(DataImport, import_id)
        if data_import is None or data_import.status in FINISHED:
            return data_import.status if data_import else ImportStatus.FAILED
        session.execute(delete(StagedRecord).where(StagedRecord.import_id == import_id))
        data_import.status = ImportStatus.CHECKING
        data_import.rows_checked = data_import.rows_staged = 0
        source, filename = data_import.source, data_import.filename
        content, actor_id = data_import.content or b"", data_import.actor_id
    try:
        rows = read_table(filename, content, source)
    except InvalidInputError as exc:
        return _fail(sessions, import_id, exc.fields)
    check = _check(sessions, import_id, source, rows)
    if check.errors:
        return _fail(sessions, import_id, check.errors)
    try:
        for chunk in _chunks(check.accepted, CHUNK_ROWS):
            with sessions() as session:
                stage_chunk(session, import_id, chunk)
        with sessions() as session:
            return publish(session, import_id, source, actor_id=actor_id)
    except Exception:
        log.exception("data import %s failed while staging or publishing", import_id)
        return _fail(sessions, import_id, {"file": ["import_failed"]})


def _check(sessions: Sessions, import_id: int, source: str, rows: Sequence[TableRow]) -> RowCheck:
    check = RowCheck(source)
    for chunk in _chunks(rows, CHUNK_ROWS):
        with sessions() as session:
            check.rows(session, chunk)
            session.execute(
                update(DataImport)
                .where(DataImport.id == import_id)
                .values(rows_checked=DataImport.rows_checked + len(chunk))
            )
    return check


def stage_chunk(session: Session, import_id: int, chunk: Sequence[tuple[int, int, dict[str, Any]]]) -> None:
    """Write one chunk of checked rows as staged records of the import and count them as done."""
    fields = [name for names in SOURCE_FIELDS.values() for name in names]
    session.execute(
        insert(StagedRecord),
        [
            {
                "import_id": import_id,
                "borrower_id": borrower_id,
                "consent_id": consent_id,
                "period": clean["period"],
                **{name: clean.get(name) for name in fields},
            }
            for borrower_id, consent_id, clean in chunk
        ],
    )
    session.execute(
        update(DataImport)
        .where(DataImport.id == import_id)
        .values(rows_staged=DataImport.rows_staged + len(chunk), status=ImportStatus.STAGING)
    )


def publish(session: Session, import_id: int, source: str, *, actor_id: int | None) -> str:
    """Move the import's staged rows into data_records in this (short) transaction, record the consent
    uses and queue the rescoring; returns the import's status (`failed` when a consent ended since the
    rows were checked, and then nothing is published)."""
    staged: Table = StagedRecord.__table__  # type: ignore[assignment]
    records: Table = DataRecord.__table__  # type: ignore[assignment]
    ended = session.scalar(
        select(staged.c.id)
        .join(Consent, Consent.id == staged.c.consent_id)
        .where(staged.c.import_id == import_id, Consent.status != ConsentStatus.ACTIVE)
        .limit(1)
    )
    if ended is not None:
        session.execute(delete(StagedRecord).where(StagedRecord.import_id == import_id))
        _mark_failed(session, import_id, {"file": ["consent_changed"]})
        return ImportStatus.FAILED
    now = utcnow()
    fields = SOURCE_FIELDS[source]
    same = and_(
        staged.c.import_id == import_id,
        staged.c.borrower_id == records.c.borrower_id,
        staged.c.period == records.c.period,
    )

    def from_staged(name: str) -> Any:
        return select(staged.c[name]).where(same).scalar_subquery()

    session.execute(
        update(records)
        .where(records.c.source == source, exists().where(same))
        .values(
            consent_id=from_staged("consent_id"),
            received_at=now,
            **{name: from_staged(name) for name in fields},
        )
    )
    stored = exists().where(
        records.c.source == source,
        records.c.borrower_id == staged.c.borrower_id,
        records.c.period == staged.c.period,
    )
    columns = ["borrower_id", "period", "consent_id", *fields]
    session.execute(
        insert(records).from_select(
            [*columns, "source", "received_at"],
            select(
                *[staged.c[name] for name in columns],
                literal(source, String()),
                literal(now, UTCDateTime()),
            ).where(staged.c.import_id == import_id, ~stored),
        )
    )
    uses: Table = ConsentUse.__table__  # type: ignore[assignment]
    use_ids = list(
        session.scalars(
            insert(uses)
            .from_select(
                ["borrower_id", "consent_id", "source", "action", "actor_id", "allowed", "detail", "at"],
                select(
                    staged.c.borrower_id,
                    staged.c.consent_id,
                    literal(source, String()),
                    literal("import", String()),
                    literal(actor_id),
                    literal(True),
                    staged.c.period,
                    literal(now, UTCDateTime()),
                ).where(staged.c.import_id == import_id),
            )
            .returning(uses.c.id)
        )
    )
    for batch in _chunks(sorted(use_ids), ID_BATCH):
        note_uses(session, session.scalars(select(ConsentUse).where(ConsentUse.id.in_(batch))).all())
    borrower_ids = sorted(
        set(session.scalars(select(staged.c.borrower_id).where(staged.c.import_id == import_id)))
    )
    add_jobs(
        session,
        [
            (RESCORE_JOB, f"{RESCORE_JOB}:{borrower_id}:import-{import_id}", {"borrower_id": borrower_id})
            for borrower_id in borrower_ids
        ],
    )
    session.execute(delete(StagedRecord).where(StagedRecord.import_id == import_id))
    session.execute(
        update(DataImport)
        .where(DataImport.id == import_id)
        .values(status=ImportStatus.PUBLISHED, imported=len(use_ids), finished_at=now, content=None)
    )
    return ImportStatus.PUBLISHED


def _mark_failed(session: Session, import_id: int, errors: dict[str, list[str]]) -> None:
    session.execute(
        update(DataImport)
        .where(DataImport.id == import_id)
        .values(status=ImportStatus.FAILED, errors=errors, finished_at=utcnow(), content=None)
    )


def _fail(sessions: Sessions, import_id: int, errors: dict[str, list[str]]) -> str:
    with sessions() as session:
        session.execute(delete(StagedRecord).where(StagedRecord.import_id == import_id))
        _mark_failed(session, import_id, errors)
    return ImportStatus.FAILED
