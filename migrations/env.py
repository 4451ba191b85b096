"""Alembic environment: the URL comes from core.settings (DATABASE_URL), or a connection handed in by tests."""

from __future__ import annotations

from alembic import context
from sqlalchemy import JSON

import core.calendars  # registers its tables
import core.models  # noqa: F401
import credit_profile.models  # noqa: F401
import matching.models  # noqa: F401
import stats.models  # noqa: F401
import monitoring.models  # noqa: F401
import products.models  # noqa: F401
import guarantees.models  # noqa: F401
from core.db import Base, make_engine
from core.settings import Settings
from core.types import EncryptedText, UTCDateTime

target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render project column types as plain SQLAlchemy types, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EncryptedText):
        return "sa.Text()"
    if type_ == "type" and isinstance(obj, JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")  # type: ignore[attr-defined]
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=Settings.from_env().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.attributes.get("database_url") or Settings.from_env().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Batch operations recreate tables; with foreign keys enforced, dropping a table other rows
            # refer to fails. Only effective outside a transaction: sent on the raw connection before
            # SQLAlchemy begins one (core.db emits BEGIN IMMEDIATE on SQLite).
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
