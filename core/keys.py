"""Data keys: re-encrypting stored identifiers under the current key after a rotation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import crypto
from core.db import Base
from core.types import EncryptedText


def reencrypt_all(session: Session, *, batch: int = 500) -> dict[str, int]:
    """Rewrite every encrypted column under the first configured data key and recompute blind indexes.

    Values are read with any configured key, so run it after putting the new key first in DATA_KEY and
    before removing the old one. Returns rows rewritten per table. Raises crypto.DataKeyError when a
    stored value opens with none of the configured keys (nothing is written for that batch then).
    """
    keys = crypto.current()
    counts: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedText)]
        if not columns:
            continue
        (pk,) = table.primary_key.columns
        counts[table.name] = 0
        last = None
        while True:
            stmt = select(pk, *columns).order_by(pk).limit(batch)
            if last is not None:
                stmt = stmt.where(pk > last)
            rows = session.execute(stmt).all()
            if not rows:
                break
            for row in rows:
                values: dict[str, Any] = {}
                for column in columns:
                    value = row._mapping[column]
                    values[column.name] = value
                    index = column.type.index if isinstance(column.type, EncryptedText) else None
                    if index:
                        values[index] = keys.blind_index(value) if value else None
                session.execute(update(table).where(pk == row[0]).values(**values))
                counts[table.name] += 1
            last = rows[-1][0]
            session.flush()
    return counts
