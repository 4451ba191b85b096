"""Figures: plans of statements run side by side (core.lanes) and turned into the contract's fields; the
summary of a window.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    text,
)
from sqlalchemy.orm import Session

from core.lanes import in_lanes
from core.reference import CITY_CODE
from stats.statements import (
    LOAN_COLUMNS,
    Rows,
    Task,
    lead_figures,
    loan_statements,
    merge_loan_figures,
    need_figures,
)
from stats.windows import (
    FIGURE_FIELDS,
    NEED_FIELDS,
    RATE_PLACES,
    SUMMARY_FIELDS,
    TOTAL,
    Grouping,
    Keyed,
    Window,
    amount_text,
    hours_from_microseconds,
    ratio,
)

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
