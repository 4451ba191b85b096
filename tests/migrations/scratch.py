"""A database of its own for a migration test that steps through revisions with data in it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from core.db import make_engine
from tests.conftest import _TMP, DATABASE_URL, IS_POSTGRES


@contextmanager
def scratch_database(label: str) -> Iterator[str]:
    """The URL of an empty database named after `label` (PostgreSQL, or an SQLite file), dropped after."""
    if IS_POSTGRES:
        name = f"jihuitong_{label}_{os.getpid()}"
        base, _name = DATABASE_URL.rsplit("/", 1)
        admin = make_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield f"{base}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
    else:
        path = _TMP / f"{label}.db"
        path.unlink(missing_ok=True)
        yield f"sqlite:///{path}"


def insert_bank_and_product(conn: Any, at: str) -> None:
    """Institution 1 with product 1, as the schema has been since the first revision."""
    conn.execute(
        text(
            "INSERT INTO institutions (id, code, name, kind, created_at) VALUES (1, 'B1', '银行', 'bank', :t)"
        ),
        {"t": at},
    )
    conn.execute(
        text(
            "INSERT INTO products (id, institution_id, name, description, min_amount, max_amount,"
            " min_term_months, max_term_months, rate_min, rate_max, collateral, borrower_kinds, region_codes,"
            " industries_excluded, tags, sla_hours, status, created_at, updated_at) VALUES (1, 1, '产品', '',"
            " 10000, 10000000, 1, 36, 3.2, 6.5, '[]', '[]', '[]', '[]', '[]', 8, 'published', :t, :t)"
        ),
        {"t": at},
    )
