"""Column types and clock helpers shared by every package."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Dialect, Numeric, Text
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from core import crypto

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONEY = Numeric(16, 2)
RATE = Numeric(6, 2)
CENT = Decimal("0.01")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_shanghai(value: dt.datetime) -> dt.datetime:
    return value.astimezone(SHANGHAI)


def local_day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants [start, end) covering the inclusive Asia/Shanghai dates first..last."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=SHANGHAI)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (naive storage) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use core.types.utcnow()")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT)


class EncryptedText(TypeDecorator[str]):
    """A string encrypted at rest with the configured data keys (core.crypto); None stays NULL.

    With `index`, the name of a column on the same table holding the value's blind index, equality
    comparisons (`Borrower.uscc == code`, `!=`) are rewritten into a match on that index, so queries read
    as if the column were plain while the database only ever sees ciphertext and keyed hashes. Any other
    comparison raises, because it could not work on ciphertext. The index column itself is filled on
    flush by `fill_blind_indexes`.
    """

    impl = Text
    cache_ok = True

    def __init__(self, index: str | None = None) -> None:
        super().__init__()
        self.index = index

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return crypto.current().encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return crypto.current().decrypt(str(value))

    class comparator_factory(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in (operators.is_, operators.is_not) or (
                op in (operators.eq, operators.ne) and other and other[0] is None
            ):
                return super().operate(op, *other, **kwargs)
            index = getattr(self.type, "index", None)
            if op in (operators.eq, operators.ne) and index and isinstance(other[0], str):
                column = self.expr.table.c[index]
                match = column.in_(crypto.current().blind_indexes(other[0]))
                return match if op is operators.eq else ~match
            raise NotImplementedError(
                "encrypted column: only == / != against a string (through its blind index) is possible"
            )


_INDEXED: dict[Any, list[tuple[str, str]]] = {}


def _indexed_columns(mapper: Any) -> list[tuple[str, str]]:
    """(value attribute, index attribute) pairs of a mapper's EncryptedText(index=...) columns."""
    if mapper not in _INDEXED:
        pairs = []
        for attr in mapper.column_attrs:
            column_type = attr.columns[0].type
            if isinstance(column_type, EncryptedText) and column_type.index:
                index_attr = mapper.get_property_by_column(mapper.local_table.c[column_type.index])
                pairs.append((attr.key, index_attr.key))
        _INDEXED[mapper] = pairs
    return _INDEXED[mapper]


def fill_blind_indexes(mapper: Any, _connection: Any, target: Any) -> None:
    """Mapper hook (before insert and update): keep each EncryptedText(index=...) column's index current."""
    for value_key, index_key in _indexed_columns(mapper):
        value = getattr(target, value_key)
        setattr(target, index_key, crypto.current().blind_index(value) if value else None)


def local_today() -> dt.date:
    """Today in Asia/Shanghai: the date a person in Ji'an sees on the calendar."""
    return utcnow().astimezone(SHANGHAI).date()
