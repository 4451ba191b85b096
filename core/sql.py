"""SQL that PostgreSQL and SQLite spell differently: the statistics' expressions, inserts that skip conflicts.

Each expression is defined so that both dialects return exactly what the Python definition in docs/metrics.md
returns; the property tests in tests/matching compare them with a plain-Python recomputation.
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Date,
    Float,
    Select,
    SQLColumnExpression,
    Table,
    bindparam,
    column,
    func,
    literal,
    select,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import FunctionElement

AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def add_months_py(day: dt.date, months: int) -> dt.date:
    """day plus whole months, the day clamped to the end of a shorter month (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


class add_months(FunctionElement[dt.date]):
    """`date + n months` clamped to the month's end, as add_months_py."""

    type = Date()
    inherit_cache = True
    name = "add_months"


@compiles(add_months, "postgresql")
def _add_months_pg(element: add_months, compiler: SQLCompiler, **kw: Any) -> str:
    day, months = list(element.clauses)
    # date + interval gives a timestamp; PostgreSQL clamps the day to the target month's end.
    return (
        f"CAST(({compiler.process(day, **kw)} + make_interval(months => {compiler.process(months, **kw)}))"
        " AS DATE)"
    )


@compiles(add_months, "sqlite")
def _add_months_sqlite(element: add_months, compiler: SQLCompiler, **kw: Any) -> str:
    day, months = (compiler.process(c, **kw) for c in element.clauses)
    # SQLite rolls 31 Jan + 1 month over into March; the earlier of that and the target month's last
    # day is the clamped date (ISO strings compare as dates).
    return (
        f"min(date({day}, '+' || ({months}) || ' months'), "
        f"date({day}, 'start of month', '+' || (({months}) + 1) || ' months', '-1 day'))"
    )


class duration_us(FunctionElement[int]):
    """Whole microseconds from `earlier` to `later` (two UTC timestamps), exactly."""

    type = BigInteger()
    inherit_cache = True
    name = "duration_us"


@compiles(duration_us, "postgresql")
def _duration_pg(element: duration_us, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    # EXTRACT(EPOCH ...) is numeric (exact to the microsecond) since PostgreSQL 14.
    return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000 AS BIGINT)"


@compiles(duration_us, "sqlite")
def _duration_sqlite(element: duration_us, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)

    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds from strftime, the fraction from
    # the text, so nothing goes through julianday's ~50 µs float resolution.
    def micros(ts: str) -> str:
        return (
            f"(CAST(strftime('%s', {ts}) AS INTEGER) * 1000000 "
            f"+ CAST(round(CAST(substr({ts}, 20) AS REAL) * 1000000) AS INTEGER))"
        )

    return f"({micros(later)} - {micros(earlier)})"


# percentile_disc at these fractions gives the lower and the upper of the two middle values of n sorted
# values (the same value when n is odd): row ceil(0.5 n), and row ceil((0.5 + 1e-12) n), which is
# floor(n / 2) + 1 for every n below 5 * 10**11 (1e-12 n stays above 0 and below 1/2).
MIDDLE_FRACTIONS = (0.5, 0.5 + 1e-12)


def median_aggregate(session: Session, value: SQLColumnExpression[Any]) -> ColumnElement[Any] | None:
    """The two middle values of an integer `value` over a group as one aggregate (NULLs skipped), or
    None where the dialect has none (SQLite: use grouped_medians). median_of_middles turns them into
    the median: the same number as percentile_cont and grouped_medians, but PostgreSQL sorts the
    integers themselves (percentile_disc) instead of their conversion to double precision."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return func.percentile_disc(postgresql.array([literal(f, Float) for f in MIDDLE_FRACTIONS])).within_group(
        value
    )


def median_of_middles(middles: Sequence[int] | None) -> float | None:
    """The median from median_aggregate's two middle values: their mean, exact in binary floating point
    for integers below 2**52 (None for an empty group)."""
    if middles is None:
        return None
    lower, upper = middles
    return (lower + upper) / 2


def grouped_medians(session: Session, values: AnySelect) -> dict[Any, float]:
    """key -> median of value, from a select of (key, value) rows with value not NULL.

    PostgreSQL: percentile_cont(0.5). SQLite: the middle row (odd count) or the mean of the two
    middle rows (even count) by row_number(), which is the same number: the mean of two integers
    below 2**52 and percentile_cont's `a + (b - a) * 0.5` are both exact in binary floating point.
    """
    sub = values.subquery()
    key, value = sub.c[0], sub.c[1]
    if session.get_bind().dialect.name == "postgresql":
        rows: Sequence[Any] = session.execute(
            select(key, func.percentile_cont(0.5).within_group(value.cast(Float))).group_by(key)
        ).all()
        return {k: float(m) for k, m in rows}
    ranked = select(
        key.label("k"),
        value.label("v"),
        func.row_number().over(partition_by=key, order_by=value).label("rn"),
        func.count().over(partition_by=key).label("n"),
    ).subquery()
    rows = session.execute(
        select(ranked.c.k, func.avg(ranked.c.v.cast(Float)))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.k)
    ).all()
    return {k: float(m) for k, m in rows}


def ordered_insert(
    session: Session, model: Any, rows: Sequence[dict[str, Any]], *, skip_conflicts_on: Sequence[str] = ()
) -> tuple[Insert, list[dict[str, Any]] | None]:
    """An INSERT of `rows` (dicts with the same keys) that writes them in their order, so that their ids
    ascend in it, and the parameters to execute it with (add RETURNING as needed). With
    `skip_conflicts_on`, rows whose key is taken are skipped (as `insert_skipping_conflicts`).

    On PostgreSQL one statement whose parameters are an array per column (``INSERT ... SELECT FROM
    unnest(...) WITH ORDINALITY ... ORDER BY`` it), executed without parameters: psycopg parses a
    statement of a few placeholders once and keeps it, where the multi-row VALUES SQLAlchemy would send
    has thousands of them and is parsed anew every time (most of a batch's own cost). Elsewhere the
    model's INSERT, executed with the rows (SQLAlchemy's multi-row VALUES under RETURNING)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres or not rows:
        dialect_insert = sqlite.insert if not postgres else postgresql.insert
        stmt = dialect_insert(model)
        if skip_conflicts_on:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        return stmt, list(rows)
    table: Table = model.__table__
    names = list(rows[0])
    arrays = [
        bindparam(f"rows_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
        for name in names
    ]
    source = func.unnest(*arrays).table_valued(*names, with_ordinality="ordinal").render_derived()
    stmt = postgresql.insert(model).from_select(
        names, select(*(source.c[name] for name in names)).order_by(source.c.ordinal)
    )
    if skip_conflicts_on:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    return stmt, None


def insert_skipping_conflicts(session: Session, model: Any, *key: str) -> Insert:
    """`INSERT ... ON CONFLICT (key) DO NOTHING` into the model's table, in the session's dialect: rows
    whose key is already taken (by this transaction or, once it commits, by a concurrent one) are
    skipped rather than failing the statement, and RETURNING returns only the rows written."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing(index_elements=list(key))
    return postgresql.insert(model).on_conflict_do_nothing(index_elements=list(key))


def update_by_key(
    session: Session, table: Table, key: str, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """Set `names` of many rows, each found by its `key`, in one statement: on PostgreSQL `UPDATE ...
    FROM (VALUES ...)` (one round trip, where an executemany costs one a row; measured faster than
    joining an unnest of arrays, which the planner cannot size). Each row is (key value, *the values of
    `names`). Returns False, writing nothing, in another dialect or for fewer than two rows: the caller
    then lets the ORM write them."""
    if session.get_bind().dialect.name != "postgresql" or len(rows) < 2:
        return False
    source = values(*(column(name, table.c[name].type) for name in (key, *names)), name="changed").data(
        [tuple(row) for row in rows]
    )
    session.execute(
        update(table).where(table.c[key] == source.c[key]).values({name: source.c[name] for name in names})
    )
    return True


class json_rows(FunctionElement[Any]):
    """An aggregate: the group's rows as a JSON array of JSON arrays, one per row, each holding the
    given columns' values in order (in no particular order of rows; NULL or [] for no row, by dialect).
    Values come back as JSON has them: dates and times as ISO 8601 text, booleans as true/false
    (PostgreSQL) or 1/0 (SQLite)."""

    type = JSON()
    inherit_cache = True
    name = "json_rows"


@compiles(json_rows, "postgresql")
def _json_rows_pg(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"
