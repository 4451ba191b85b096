"""The finance offices' statistics summary, as defined in the API contract (docs/metrics.md).

Windows are inclusive Asia/Shanghai dates; a need or lead counts in the window its submission or push
instant falls in, a loan by its `disbursed_on` date. The region is always the borrower's.

Every figure is computed in SQL by one engine, `figures`, which can also group the rows by a key
(a county, an institution, a month ...): the summary is that engine with no key, so a breakdown and
the summary can never disagree on what a figure means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
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

from core.lanes import in_lanes
from core.reference import CITY_CODE
from core.types import local_day_bounds
from credit_profile.models import Borrower, BorrowerKind
from matching.models import FINAL_NEED_STATUSES, Lead, Loan, Need, NeedStatus
from matching.sqlfuncs import AnySelect, grouped_medians, median_aggregate, median_of_middles

INCLUSIVE_LINE = Decimal("10000000")
SHARE_PLACES = Decimal("0.0001")
RATE_PLACES = Decimal("0.01")
MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)
BUSINESS_KINDS = (BorrowerKind.ENTERPRISE.value, BorrowerKind.INDIVIDUAL_BUSINESS.value)
CREDIT = "credit"

# The contract's summary fields (api-v1 "Statistics for finance offices"), in its order.
SUMMARY_FIELDS = (
    "needs", "needs_amount", "leads_pushed", "leads_claimed", "median_hours_to_claim", "loans",
    "loans_amount", "borrowers", "first_loan_borrowers", "first_loan_share", "renewal_loans",
    "renewal_amount", "renewal_requests", "renewal_success_rate", "credit_loan_share", "avg_rate",
    "inclusive_loans_pboc", "inclusive_loans_nfra", "farmer_loans", "farmer_amount",
)  # fmt: skip
# Further figures the breakdowns and time series carry (docs/metrics.md).
EXTRA_FIELDS = (
    "first_loan_loans", "first_loan_amount", "credit_loans", "credit_amount",
    "inclusive_amount_pboc", "inclusive_amount_nfra", "inclusive_borrowers_pboc", "inclusive_borrowers_nfra",
)  # fmt: skip
NEED_FIELDS = frozenset({"needs", "needs_amount", "renewal_requests", "renewal_success_rate"})
FIGURE_FIELDS = SUMMARY_FIELDS + EXTRA_FIELDS


@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    region_code: str | None = None

    @property
    def county(self) -> str | None:
        """The county to filter on, or None for the whole city."""
        return None if self.region_code in (None, "", CITY_CODE) else self.region_code

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The UTC instants [start, end) of the window's local days."""
        return local_day_bounds(self.first, self.last)


@dataclass(frozen=True)
class Keyed:
    """How a dimension keys one family of rows: an expression and the joins it needs.

    `on_borrower`: the key is the borrower's (county, kind, industry), read from the row's copy of it
    (matching.models.BorrowerCopy): every loan of a borrower has the same key, so a (borrower, key)
    group is the borrower's whole window.

    `exclusive`: every row falls under exactly one key (an institution; not a tag, which a product may
    carry several of or none), so the keys' counts and sums add up to the whole window's
    (GROUP BY ROLLUP gives them in the same pass). A key read from the borrower is always exclusive.
    """

    expr: SQLColumnExpression[Any]
    joins: tuple[tuple[Any, ColumnElement[bool]], ...] = ()
    on_borrower: bool = False
    exclusive: bool = False

    @property
    def rolls_up(self) -> bool:
        return self.on_borrower or self.exclusive


@dataclass(frozen=True)
class Grouping:
    """A dimension of a breakdown. `need`, `lead` or `loan` is None when that family of rows cannot be
    attributed to one key (a need is not any one institution's), so its figures are null.

    `loan_total_by_key`: the inclusive-line test sums the borrower's loans per key instead of over the
    whole window (time buckets, where each point is the summary of its own period).
    """

    need: Keyed | None
    lead: Keyed | None
    loan: Keyed | None
    loan_total_by_key: bool = False
    keys: Sequence[Hashable] = field(default=())


def ratio(numerator: Decimal | int, denominator: Decimal | int, places: Decimal = SHARE_PLACES) -> str | None:
    """numerator / denominator as a decimal string rounded half-up, or None when the denominator is 0."""
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_UP))


def amount_text(value: Decimal | float | int | None) -> str:
    """Yuan with 2 decimals (SQLite sums are floats: rounded half-up from their exact binary value)."""
    return str(Decimal(value or 0).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


def hours_from_microseconds(value: float | None) -> float | None:
    """A median duration in microseconds as hours rounded half-up to 2 decimals (a JSON number)."""
    if value is None:
        return None
    return float((Decimal(value) / MICROSECONDS_PER_HOUR).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


def in_region(window: Window, rows: Any = Borrower) -> list[ColumnElement[bool]]:
    """The borrower-region condition of the window (none for the whole city), on the borrowers or on
    the copy of the borrower's county that needs, leads and loans carry (`rows`: Need, Lead or Loan)."""
    return [] if window.county is None else [rows.region_code == window.county]


# The key of the whole window's row in a grouping computed WITH its total (GROUP BY ROLLUP).
TOTAL: Hashable = object()


def _keyed(stmt: AnySelect, keyed: Keyed | None, *, rollup: bool = False) -> AnySelect:
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
        for key, row in _rows(session, _keyed(stmt, keyed, rollup=rollup), rollup=rollup).items()
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
    """As _keyed, for a statement that already carries the key's joins. With `rollup`, the rows of the
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


_EMPTY_NEED = (0, None, 0, 0, 0)
_EMPTY_LEAD = (0, 0, None)
_EMPTY_LOAN = (0, None, 0, 0, 0, None, 0, None, 0, None, None, 0, 0, None, None, 0, 0, 0, None)


def present(
    need: Sequence[Any] | None, lead: Sequence[Any] | None, loan: Sequence[Any] | None
) -> dict[str, Any]:
    """The figures of one group as the API shows them; a family given as None is not attributable."""
    result: dict[str, Any] = {}
    if need is None:
        result.update(dict.fromkeys(NEED_FIELDS))
    else:
        needs, needs_amount, renewal_requests, renewal_final, renewal_disbursed = need
        result.update(
            needs=needs,
            needs_amount=amount_text(needs_amount),
            renewal_requests=renewal_requests,
            renewal_success_rate=ratio(renewal_disbursed, renewal_final),
        )
    if lead is None:
        result.update(leads_pushed=None, leads_claimed=None, median_hours_to_claim=None)
    else:
        result.update(
            leads_pushed=lead[0],
            leads_claimed=lead[1],
            median_hours_to_claim=hours_from_microseconds(lead[2]),
        )
    if loan is None:
        result.update(dict.fromkeys(set(LOAN_COLUMNS) - {"rate_weighted"}))
        result.update(first_loan_share=None, credit_loan_share=None, avg_rate=None)
    else:
        raw = dict(zip(LOAN_COLUMNS, loan, strict=True))
        loans_amount = Decimal(raw["loans_amount"] or 0)
        for name in LOAN_COLUMNS:
            if name != "rate_weighted":
                result[name] = amount_text(raw[name]) if "amount" in name else raw[name]
        result.update(
            first_loan_share=ratio(raw["first_loan_borrowers"], raw["borrowers"]),
            credit_loan_share=ratio(Decimal(raw["credit_amount"] or 0), loans_amount),
            avg_rate=ratio(Decimal(raw["rate_weighted"] or 0), loans_amount, RATE_PLACES),
        )
    return {name: result[name] for name in FIGURE_FIELDS}


@dataclass(frozen=True)
class Plan:
    """Statements to run (tasks for a session, see core.lanes) and how to combine their results."""

    tasks: tuple[Task, ...]
    combine: Callable[[Sequence[Any]], Any]

    @staticmethod
    def of(*plans: Plan, combine: Callable[..., Any]) -> Plan:
        """One plan of several: `combine` is called with each plan's combined result, in order."""
        sizes = [len(plan.tasks) for plan in plans]

        def combined(results: Sequence[Any]) -> Any:
            parts, at = [], 0
            for plan, size in zip(plans, sizes, strict=True):
                parts.append(plan.combine(results[at : at + size]))
                at += size
            return combine(*parts)

        return Plan(tuple(task for plan in plans for task in plan.tasks), combined)


def run_plans(session: Session, *plans: Plan) -> list[Any]:
    """Each plan's result. Their statements run side by side, reading one committed state (core.lanes)."""
    analytic_session(session)
    plan = Plan.of(*plans, combine=lambda *parts: list(parts))
    return plan.combine(in_lanes(session, plan.tasks, prepare=analytic_session))  # type: ignore[no-any-return]


def figures(
    session: Session, window: Window, grouping: Grouping | None = None
) -> dict[Hashable, dict[str, Any]]:
    """key -> every figure (SUMMARY_FIELDS + EXTRA_FIELDS) for the window; the key None without a grouping.

    With a grouping, the result holds its declared keys (in their order) and every key that has rows.
    """
    (result,) = run_plans(session, figures_plan(window, grouping))
    return result  # type: ignore[no-any-return]


def figures_plan(window: Window, grouping: Grouping | None = None) -> Plan:
    """figures(window, grouping) as a plan (see run_plans)."""
    if grouping is None:

        def whole(loans: Rows, needs: Rows, leads: Rows) -> dict[Hashable, dict[str, Any]]:
            return {
                None: present(
                    needs.get(None, _EMPTY_NEED), leads.get(None, _EMPTY_LEAD), loans.get(None, _EMPTY_LOAN)
                )
            }

        return Plan.of(
            loan_plan(window, None),
            single(lambda s: need_figures(s, window, None)),
            single(lambda s: lead_figures(s, window, None)),
            combine=whole,
        )
    return _grouped_plan(window, grouping)


def single(task: Task) -> Plan:
    """A plan of one statement whose result is the plan's."""
    return Plan((task,), lambda results: results[0])


def loan_plan(
    window: Window, keyed: Keyed | None, *, total_by_key: bool = False, rollup: bool = False
) -> Plan:
    # The borrower-level statement first: the longest, it starts on the first free lane.
    loan_level, borrower_level = loan_statements(window, keyed, total_by_key=total_by_key, rollup=rollup)
    return Plan((borrower_level, loan_level), lambda results: merge_loan_figures(results[1], results[0]))


def _rolls_up(session: Session, grouping: Grouping) -> bool:
    """Whether the whole window's figures can come with the grouping's own statements: on PostgreSQL
    (GROUP BY ROLLUP), for groupings over the whole window (not time buckets, where each point is the
    summary of its own period). Families whose rows do not fall under exactly one key get their whole
    window's figures from one more statement of their own (see _family)."""
    return session.get_bind().dialect.name == "postgresql" and not grouping.loan_total_by_key


def figures_with_total(
    session: Session, window: Window, grouping: Grouping
) -> tuple[dict[Hashable, dict[str, Any]], dict[str, Any]]:
    """figures(session, window, grouping) and the whole window's figures (figures(session, window)[None]),
    from the same statements where that is exact (see _rolls_up), else from separate ones."""
    if not _rolls_up(session, grouping):
        rows, whole = run_plans(session, _grouped_plan(window, grouping), figures_plan(window))
        return rows, whole[None]
    (rows,) = run_plans(session, _grouped_plan(window, grouping, rollup=True))
    return rows, rows.pop(TOTAL)


FamilyTask = Callable[[Session, Window, Keyed | None, bool], Rows]


def _family(figures_of: FamilyTask, window: Window, keyed: Keyed | None, rollup: bool) -> Plan:
    """One family's figures per key (None when its rows cannot be attributed to the keys); with `rollup`,
    also its whole window's under TOTAL: from the same statement (GROUP BY ROLLUP) when each row has
    exactly one key, else from a statement without the key."""
    if keyed is None and not rollup:
        return Plan((), lambda _results: None)
    if not rollup or (keyed is not None and keyed.rolls_up):
        return single(lambda s: figures_of(s, window, keyed, rollup))

    def with_whole(whole: Rows, by_key: Rows | None = None) -> Rows:
        rows = dict(by_key or {})
        if None in whole:
            rows[TOTAL] = whole[None]
        return rows

    whole = single(lambda s: figures_of(s, window, None, False))
    if keyed is None:
        return Plan.of(whole, combine=with_whole)
    return Plan.of(whole, single(lambda s: figures_of(s, window, keyed, False)), combine=with_whole)


def _grouped_plan(window: Window, grouping: Grouping, *, rollup: bool = False) -> Plan:
    """figures() with a grouping; with `rollup`, also the whole window's figures under the key TOTAL."""
    loans = (
        loan_plan(window, grouping.loan, total_by_key=grouping.loan_total_by_key, rollup=rollup)
        if grouping.loan
        else Plan((), lambda _results: None)
    )
    needs = _family(lambda s, w, keyed, r: need_figures(s, w, keyed, rollup=r), window, grouping.need, rollup)
    leads = _family(lambda s, w, keyed, r: lead_figures(s, w, keyed, rollup=r), window, grouping.lead, rollup)

    def combine(
        grouped_loans: Rows | None, grouped_needs: Rows | None, grouped_leads: Rows | None
    ) -> dict[Hashable, dict[str, Any]]:
        keys: list[Hashable] = list(grouping.keys)
        for found in (grouped_needs, grouped_leads, grouped_loans):
            for key in found or {}:
                if key not in keys and key is not TOTAL:
                    keys.append(key)
        families = ((grouped_needs, grouping.need, _EMPTY_NEED), (grouped_leads, grouping.lead, _EMPTY_LEAD),
                    (grouped_loans, grouping.loan, _EMPTY_LOAN))  # fmt: skip
        result = {
            key: present(
                *[
                    None if keyed is None or found is None else found.get(key, empty)
                    for found, keyed, empty in families
                ]
            )
            for key in keys
        }
        if rollup:
            result[TOTAL] = present(*[(found or {}).get(TOTAL, empty) for found, _keyed, empty in families])
        return result

    return Plan.of(loans, needs, leads, combine=combine)


ANALYTIC_WORK_MEM = "64MB"
# What the statistics transaction sets (PostgreSQL), and the benchmark's floor with it.
ANALYTIC_SETTINGS = {"work_mem": ANALYTIC_WORK_MEM, "jit": "off"}


def analytic_session(session: Session) -> None:
    """Give the statistics queries of this transaction room to hash and sort in memory (PostgreSQL).

    The default work_mem (4 MB) makes the joins and the per-borrower aggregation over a year of a
    city's rows spill to disk. JIT compilation is off: the statements are costly enough to trigger it,
    and compiling their many CASE expressions takes a few hundred milliseconds that a scan of half a
    million index tuples does not win back (bench/stats.py). SET LOCAL ends with the transaction (a
    request's or a job's).
    """
    if session.get_bind().dialect.name == "postgresql":
        for name, value in ANALYTIC_SETTINGS.items():
            session.execute(text(f"SET LOCAL {name} = '{value}'"))


def window_header(window: Window) -> dict[str, Any]:
    """The window and region a result was computed for, as every statistics response starts."""
    return {
        "from": window.first.isoformat(),
        "to": window.last.isoformat(),
        "region_code": window.county or CITY_CODE,
    }


def summary(session: Session, window: Window) -> dict[str, Any]:
    """Every figure of GET /api/v1/stats/summary for the window and region."""
    return summary_of(window, figures(session, window)[None])


def summary_of(window: Window, whole: dict[str, Any]) -> dict[str, Any]:
    """The summary's response from the window's figures (figures(...)[None])."""
    return {**window_header(window), **{name: whole[name] for name in SUMMARY_FIELDS}}
