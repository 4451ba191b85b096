"""Column types and clock helpers shared by every package."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator

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
