"""The SQL statements behind the figures: needs, leads and loans of a window, keyed by group, one statement
each (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from core.sql import AnySelect, grouped_medians, median_aggregate, median_of_middles
from credit_profile.models import BorrowerKind
from matching.models import FINAL_NEED_STATUSES, Lead, Loan, Need, NeedStatus
from stats.windows import BUSINESS_KINDS, CREDIT, INCLUSIVE_LINE, TOTAL, Keyed, Window, in_region


@contextmanager
def _serial(session: Session) -> Iterator[None]:
    """Run the statements inside without parallel workers (PostgreSQL), then restore the setting.

    PostgreSQL plans the per-borrower aggregation as the inner side of a parallel hash join, which
    every worker then builds in full: three times the work for the same answer (EXPLAIN shows
    loops=3), 0.95 s against 0.6 s serial for a year in bench/stats.py.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    name = "max_parallel_workers_per_gather"
    previous = session.scalar(text(f"SELECT current_setting('{name}')"))
    session.execute(text(f"SET LOCAL {name} = 0"))
    try:
        yield
    finally:
        session.execute(text(f"SELECT set_config('{name}', :value, true)"), {"value": previous})


def keyed_statement(stmt: AnySelect, keyed: Keyed | None, *, rollup: bool = False) -> AnySelect:
    """Add the key as the last column, its joins, and the grouping (nothing without a key)."""
    if keyed is None:
        return stmt.add_columns(literal(None).label("key"))
    for target, onclause in keyed.joins:
        stmt = stmt.join(target, onclause)
    return _keyed_columns(stmt, keyed, rollup=rollup)


def _rows(session: Session, stmt: AnySelect, *, rollup: bool = False) -> dict[Hashable, Sequence[Any]]:
    if rollup:  # the last column is grouping(key): 1 on the total's row
        return {TOTAL if row[-1] else row[-2]: tuple(row[:-2]) for row in session.execute(stmt)}
    return {row[-1]: tuple(row[:-1]) for row in session.execute(stmt)}


def _cents(amount: SQLColumnExpression[Any], scale: int = 100) -> ColumnElement[int]:
    """An exact decimal column as an integer (amount × 100 is whole cents). Integer sums are several
    times faster than NUMERIC sums on PostgreSQL and exact on SQLite, where NUMERIC is stored as REAL."""
    return func.round(amount * scale).cast(BigInteger)


def _from_cents(value: Any, scale: int = 100) -> Decimal | None:
    return None if value is None else Decimal(int(value)) / scale


def need_figures(
    session: Session,
    window: Window,
    keyed: Keyed | None,
    where: Sequence[ColumnElement[bool]] = (),
    *,
    rollup: bool = False,
) -> dict[Hashable, Sequence[Any]]:
    """key -> (needs, needs_amount, renewal_requests, renewal needs final, of those disbursed)."""
    start, end = window.bounds()
    final = Need.status.in_([s.value for s in FINAL_NEED_STATUSES])
    renewal = Need.is_renewal.is_(True)
    stmt = select(
        func.count(Need.id),
        func.sum(_cents(Need.amount)),
        func.count(case((renewal, Need.id))),
        func.count(case((and_(renewal, final), Need.id))),
        func.count(case((and_(renewal, Need.status == NeedStatus.DISBURSED.value), Need.id))),
    ).where(Need.submitted_at >= start, Need.submitted_at < end, *in_region(window, Need), *where)
    return {
        key: (row[0], _from_cents(row[1]), *row[2:])
        for key, row in _rows(session, keyed_statement(stmt, keyed, rollup=rollup), rollup=rollup).items()
    }


def lead_figures(
    session: Session,
    window: Window,
    keyed: Keyed | None,
    where: Sequence[ColumnElement[bool]] = (),
    *,
    rollup: bool = False,
) -> dict[Hashable, Sequence[Any]]:
    """key -> (leads pushed, of those claimed, median microseconds from push to claim or None)."""
    start, end = window.bounds()

    def base(*columns: SQLColumnExpression[Any]) -> AnySelect:
        # The lead carries its borrower's county, kind and industry (BorrowerCopy): no join.
        stmt = (
            select(*columns)
            .select_from(Lead)
            .where(Lead.pushed_at >= start, Lead.pushed_at < end, *in_region(window, Lead), *where)
        )
        for target, onclause in keyed.joins if keyed is not None else ():
            stmt = stmt.join(target, onclause)
        return stmt

    # The stored push-to-claim time (NULL until claimed): a narrow integer, sorted as it is for the median.
    median = median_aggregate(session, Lead.claim_us)
    if median is not None:
        # One pass over the window: the median skips the NULLs of unclaimed leads.
        # count(*), not count(id): the rows sorted for the median stay narrow enough for work_mem.
        stmt = _keyed_columns(base(func.count(), func.count(Lead.claim_us), median), keyed, rollup=rollup)
        return {
            k: (pushed, claimed, median_of_middles(middles))
            for k, (pushed, claimed, middles) in _rows(session, stmt, rollup=rollup).items()
        }
    assert not rollup, "GROUP BY ROLLUP is PostgreSQL's"
    counts = _rows(session, _keyed_columns(base(func.count(Lead.id), func.count(Lead.claim_us)), keyed))
    key = keyed.expr if keyed is not None else literal(0)
    durations = base(key.label("key"), Lead.claim_us.label("us")).where(Lead.claim_us.is_not(None))
    medians = grouped_medians(session, durations)
    if keyed is None:
        medians = {None: medians[0]} if 0 in medians else {}
    return {k: (*row, medians.get(k)) for k, row in counts.items()}


def _keyed_columns(stmt: AnySelect, keyed: Keyed | None, *, rollup: bool = False) -> AnySelect:
    """As keyed_statement, for one that already carries the key's joins. With `rollup`, the rows of the
    keys and the row of the whole window (PostgreSQL's GROUP BY ROLLUP), told apart by grouping(key)."""
    if keyed is None:
        return stmt.add_columns(literal(None).label("key"))
    if rollup:
        return stmt.add_columns(keyed.expr.label("key"), func.grouping(keyed.expr).label("total")).group_by(
            func.rollup(keyed.expr)
        )
    return stmt.add_columns(keyed.expr.label("key")).group_by(keyed.expr)


LOAN_COLUMNS = (
    "loans", "loans_amount", "borrowers", "first_loan_borrowers", "first_loan_loans", "first_loan_amount",
    "renewal_loans", "renewal_amount", "credit_loans", "credit_amount", "rate_weighted",
    "inclusive_loans_pboc", "inclusive_loans_nfra", "inclusive_amount_pboc", "inclusive_amount_nfra",
    "inclusive_borrowers_pboc", "inclusive_borrowers_nfra", "farmer_loans", "farmer_amount",
)  # fmt: skip


Rows = dict[Hashable, Sequence[Any]]
Task = Callable[[Session], Any]


def loan_statements(
    window: Window,
    keyed: Keyed | None,
    *,
    total_by_key: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
    rollup: bool = False,
) -> tuple[Task, Task]:
    """The loan figures as two statements, each a task for a session (see core.lanes), whose results
    merge_loan_figures combines into key -> the figures in the order of LOAN_COLUMNS; with `rollup`
    (PostgreSQL), also the whole window's under the key TOTAL.

    Two statements, so that no figure needs COUNT(DISTINCT): the loan-level sums per key, and the
    borrower-level figures from loans first summed per (borrower, key) — one such group is one
    distinct borrower — with the borrower's kind the loan carries (BorrowerCopy).
    """
    # The loan carries its borrower's county and kind (BorrowerCopy): no statement joins the borrowers.
    in_window = and_(
        Loan.disbursed_on >= window.first, Loan.disbursed_on <= window.last, *in_region(window, Loan), *where
    )
    # A key that is not the borrower's (an institution, a tag, a time bucket) can split a borrower's loans.
    splits_borrowers = keyed is not None and not keyed.on_borrower
    assert not (rollup and total_by_key)

    def with_key_joins(stmt: AnySelect) -> AnySelect:
        for target, onclause in keyed.joins if keyed is not None else ():
            stmt = stmt.join(target, onclause)
        return stmt

    first = Loan.first_loan_borrower.is_(True)
    renewal = Loan.renewal_without_repayment.is_(True)
    credit = Loan.collateral == CREDIT
    cents = _cents(Loan.amount)

    def flat(*, key_joins: bool = True) -> AnySelect:
        stmt = select(
            func.count(Loan.id),
            func.sum(cents),
            func.count(case((first, Loan.id))),
            func.sum(case((first, cents))),
            func.count(case((renewal, Loan.id))),
            func.sum(case((renewal, cents))),
            func.count(case((credit, Loan.id))),
            func.sum(case((credit, cents))),
            func.sum(_cents(Loan.amount * Loan.rate, 10_000)),
        ).where(in_window)
        return with_key_joins(stmt) if key_joins else stmt

    def loan_level(session: Session) -> Rows:
        if rollup and keyed is not None and not keyed.rolls_up:
            # A loan may fall under several keys or none: the whole window's sums come from the loans alone.
            rows = _rows(session, _keyed_columns(flat(), keyed))
            rows[TOTAL] = _rows(session, _keyed_columns(flat(key_joins=False), None))[None]
            return rows
        return _rows(session, _keyed_columns(flat(), keyed, rollup=rollup), rollup=rollup)

    def per_borrower_select() -> AnySelect:
        """Each borrower's loans in the window (with its kind, the same on every one of them)."""
        return select(
            Loan.borrower_id.label("borrower_id"),
            Loan.borrower_kind.label("kind"),
            func.count(Loan.id).label("n"),
            func.sum(cents).label("cents"),
            func.max(case((first, 1), else_=0)).label("first"),
        ).where(in_window)

    group_by: list[Any] = [Loan.borrower_id, Loan.borrower_kind]
    inner = per_borrower_select()
    if keyed is not None:
        inner = with_key_joins(inner.add_columns(keyed.expr.label("key")))
        group_by.append(keyed.expr)
    per_borrower = inner.group_by(*group_by).subquery("per_borrower")
    p = per_borrower.c
    line = int(INCLUSIVE_LINE * 100)

    def borrower_level(
        n: Any, amount: Any, first_loan: Any, pboc: Any, nfra: Any, farmer_: Any
    ) -> list[ColumnElement[Any]]:
        return [
            func.count(),
            func.sum(first_loan),
            func.sum(case((pboc, n))),
            func.sum(case((nfra, n))),
            func.sum(case((pboc, amount))),
            func.sum(case((nfra, amount))),
            func.count(case((pboc, 1))),
            func.count(case((nfra, 1))),
            func.sum(case((farmer_, n))),
            func.sum(case((farmer_, amount))),
        ]

    outer: Any
    if splits_borrowers and not total_by_key:
        # Whether a loan is 普惠小微 depends on the borrower's total in the window over every bank and
        # product, never on the group it is counted in: each borrower's window, classified once, then
        # joined to its (borrower, key) groups. With `rollup` the whole window's row is the classified
        # borrowers themselves (a key may not hold every loan, or may hold a loan twice).
        whole = per_borrower_select().group_by(Loan.borrower_id, Loan.borrower_kind).subquery("whole")
        w = whole.c
        business = w.kind.in_(BUSINESS_KINDS)
        classes = (
            select(
                w.borrower_id,
                w.n,
                w.cents,
                w.first,
                and_(business, w.cents < line).label("pboc"),
                and_(business, w.cents <= line).label("nfra"),
                (w.kind == BorrowerKind.FARMER.value).label("farmer"),
            )
            .cte("classes")
            # Classified once, then probed by the (borrower, key) groups: inlined, PostgreSQL would join
            # those groups to the totals twice, two probes per group instead of one.
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        c = classes.c
        outer = select(*borrower_level(p.n, p.cents, p.first, c.pboc, c.nfra, c.farmer)).select_from(
            per_borrower.join(classes, c.borrower_id == p.borrower_id)
        )
        if rollup:
            outer = union_all(
                outer.add_columns(p.key, literal(0).label("total")).group_by(p.key),
                select(*borrower_level(c.n, c.cents, c.first, c.pboc, c.nfra, c.farmer)).add_columns(
                    literal(None).label("key"), literal(1).label("total")
                ),
            )
        else:
            outer = outer.add_columns(p.key).group_by(p.key)
    else:
        # One key per borrower (the borrower's own, or a time bucket, each bucket tested on its own
        # total): the group's own sum is the total the inclusive line is tested on.
        business = p.kind.in_(BUSINESS_KINDS)
        outer = select(
            *borrower_level(
                p.n,
                p.cents,
                p.first,
                and_(business, p.cents < line),
                and_(business, p.cents <= line),
                p.kind == BorrowerKind.FARMER.value,
            )
        ).select_from(per_borrower)
        if keyed is None:
            outer = outer.add_columns(literal(None).label("key"))
        elif rollup:
            outer = outer.add_columns(p.key, func.grouping(p.key).label("total")).group_by(func.rollup(p.key))
        else:
            outer = outer.add_columns(p.key).group_by(p.key)

    def per_borrower_figures(session: Session) -> Rows:
        with _serial(session):
            return _rows(session, outer, rollup=rollup)

    return loan_level, per_borrower_figures


def merge_loan_figures(loan_level: Rows, borrower_level_rows: Rows) -> Rows:
    """key -> the loan figures (LOAN_COLUMNS) from the two results of loan_statements."""
    result: Rows = {}
    for key, flat_row in loan_level.items():
        n, amount, first_n, first_amount, renewal_n, renewal_amount, credit_n, credit_amount, weighted = (
            flat_row
        )
        if not n:
            continue
        (borrowers, first_borrowers, pboc_n, nfra_n, pboc_amount, nfra_amount, pboc_b, nfra_b, farmer_n,
         farmer_amount) = borrower_level_rows.get(key, (0,) * 10)  # fmt: skip
        result[key] = (
            n, _from_cents(amount), borrowers, int(first_borrowers or 0), first_n, _from_cents(first_amount),
            renewal_n, _from_cents(renewal_amount), credit_n, _from_cents(credit_amount),
            _from_cents(weighted, 10_000), int(pboc_n or 0), int(nfra_n or 0), _from_cents(pboc_amount),
            _from_cents(nfra_amount), pboc_b, nfra_b, int(farmer_n or 0), _from_cents(farmer_amount),
        )  # fmt: skip
    return result
