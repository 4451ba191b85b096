"""Declarative base with a naming convention, engine and session factory."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, ColumnElement, MetaData, create_engine, event, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.types import fill_blind_indexes

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JsonType,
        list[str]: JsonType,
        list[dict[str, Any]]: JsonType,
    }


# Every mapped class: blind indexes of encrypted columns are recomputed whenever a row is written.
event.listen(Base, "before_insert", fill_blind_indexes, propagate=True)
event.listen(Base, "before_update", fill_blind_indexes, propagate=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None in _sqlite_pragmas), so
    # SQLAlchemy emits BEGIN itself: SAVEPOINTs then nest correctly, and IMMEDIATE takes the write
    # lock up front, so two writers queue on busy_timeout instead of failing on a stale snapshot.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; SQLite gets foreign keys, a busy timeout and WAL so readers do not block."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 10})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def transaction_has_written() -> ColumnElement[bool]:
    """True in a PostgreSQL transaction that has written (it has a transaction id): its own uncommitted
    rows are in no snapshot another connection can read or name."""
    return func.pg_current_xact_id_if_assigned().is_not(None)
