"""What the finance office reads about public credit enhancement, by county, bank, guarantor (operator)
or scheme, for a window of dates and as at a date. Each figure is defined in plain Chinese in
docs/metrics.md (section 政府性融资担保与风险补偿) and on the metrics page; the definitions are here once.

Dates are local calendar dates (activation, payment, recovery, bridge steps); the window is inclusive.
"As at" figures read the state at the end of `as_at`. Every amount is yuan; rates and shares are
Decimal fractions rounded to 4 places (None when the denominator is zero).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from core.types import local_day_bounds
from guarantees.models import (
    BridgeApplication,
    Compensation,
    Cover,
    DefaultReport,
    Recovery,
    Scheme,
    SchemeKind,
)

DIMENSIONS = ("region", "bank", "guarantor", "scheme")
# Not a dimension: the whole scope in one row (the 合计 of a table by a dimension), keyed TOTAL.
ALL = "all"
TOTAL = 0
CITY_CODE = "360800"
ZERO = Decimal("0.00")
FOUR = Decimal("0.0001")

COVER_FIGURES = (
    "covers_in_force", "balance_in_force", "new_covers", "new_amount", "avg_fee_rate", "matured_amount",
    "compensation_amount", "compensation_rate", "claims_filed", "claims_paid", "claims_pending",
    "claims_pending_amount", "mean_days_to_pay", "recoveries", "recovery_rate",
)  # fmt: skip
BRIDGE_FIGURES = (
    "bridge_applications", "bridge_approved", "bridge_disbursed", "bridge_amount", "bridge_returned",
    "mean_days_used", "p90_days_used", "fee_income", "overdue_balance", "bridge_breaches", "renewals_enabled",
)  # fmt: skip


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    # A county's code limits every figure to that county; the city's (or None) takes all.
    region_code: str | None = None

    @property
    def as_at(self) -> dt.date:
        return self.last


def ratio(num: Decimal | int | None, den: Decimal | int | None) -> Decimal | None:
    if not den or num is None:
        return None
    return (Decimal(num) / Decimal(den)).quantize(FOUR)


def p90(values: Iterable[int]) -> int | None:
    """The 90th percentile by nearest rank: the smallest value with at least 90 % of values at or below."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _total(column: Any) -> Any:
    # A key every row shares; an expression over a column (PostgreSQL refuses GROUP BY a constant).
    zero: ColumnElement[int] = literal_column(
        str(TOTAL)
    )  # inline, so that SELECT and GROUP BY read the same expression
    return case((column.is_not(None), zero), else_=zero)


def _cover_key(dimension: str) -> Any:
    if dimension == ALL:
        return _total(Cover.id)
    return {
        "region": Cover.region_code,
        "bank": Cover.institution_id,
        "guarantor": Cover.operator_id,
        "scheme": Cover.scheme_id,
    }[dimension]


def _bridge_key(dimension: str) -> Any:
    if dimension == ALL:
        return _total(BridgeApplication.id)
    return {
        "region": BridgeApplication.region_code,
        "bank": BridgeApplication.institution_id,
        "guarantor": Scheme.operator_id,
        "scheme": BridgeApplication.scheme_id,
    }[dimension]


def _in(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.first, column <= period.last)


def _scoped(query: Select[Any], region: Any, period: Period) -> Select[Any]:
    if period.region_code and period.region_code != CITY_CODE:
        query = query.where(region == period.region_code)
    return query


def _sum(expr: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(expr), 0)


def _when(cond: ColumnElement[bool], value: Any = 1) -> ColumnElement[Any]:
    return _sum(case((cond, value), else_=0))


def cover_figures(session: Session, period: Period, dimension: str) -> dict[Any, dict[str, Any]]:
    """The covers' figures by the dimension's key (a county code, an institution or scheme id; ALL: one
    row keyed TOTAL, absent when there is no cover). Raises ValueError for an unknown dimension."""
    if dimension not in (*DIMENSIONS, ALL):
        raise ValueError(dimension)
    key = _cover_key(dimension)
    as_at = period.as_at
    in_force = and_(
        Cover.activated_on <= as_at,
        or_(Cover.released_on.is_(None), Cover.released_on > as_at),
        or_(Cover.defaulted_on.is_(None), Cover.defaulted_on > as_at),
    )
    new = _in(Cover.activated_on, period)
    base = select(
        key.label("key"),
        _when(in_force).label("covers_in_force"),
        _when(in_force, Cover.amount).label("balance_in_force"),
        _when(new).label("new_covers"),
        _when(new, Cover.amount).label("new_amount"),
        _when(new, Cover.amount * Cover.fee_rate).label("fee_weighted"),
        _when(_in(Cover.matures_on, period), Cover.amount).label("matured_amount"),
    ).group_by(key)
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(COVER_FIGURES, 0))
    for row in session.execute(_scoped(base, Cover.region_code, period)).mappings():
        figures = out[row["key"]]
        for name in ("covers_in_force", "new_covers"):
            figures[name] = int(row[name])
        for name in ("balance_in_force", "new_amount", "matured_amount"):
            figures[name] = Decimal(row[name]).quantize(ZERO)
        figures["avg_fee_rate"] = ratio(Decimal(row["fee_weighted"]), figures["new_amount"])
    comp = (
        select(
            key.label("key"),
            _when(
                and_(Compensation.kind == "compensation", _in(Compensation.paid_on, period)),
                Compensation.amount_paid,
            ).label("compensation_amount"),
            _when(_in(Compensation.claimed_on, period)).label("claims_filed"),
            _when(_in(Compensation.paid_on, period)).label("claims_paid"),
            _when(
                and_(
                    Compensation.claimed_on <= as_at,
                    or_(Compensation.paid_on.is_(None), Compensation.paid_on > as_at),
                )
            ).label("claims_pending"),
            _when(
                and_(
                    Compensation.claimed_on <= as_at,
                    or_(Compensation.paid_on.is_(None), Compensation.paid_on > as_at),
                ),
                Compensation.amount_due,
            ).label("claims_pending_amount"),
        )
        .join(DefaultReport, DefaultReport.id == Compensation.default_id)
        .join(Cover, Cover.id == DefaultReport.cover_id)
        .group_by(key)
    )
    for row in session.execute(_scoped(comp, Cover.region_code, period)).mappings():
        figures = out[row["key"]]
        figures["compensation_amount"] = Decimal(row["compensation_amount"]).quantize(ZERO)
        figures["claims_pending_amount"] = Decimal(row["claims_pending_amount"]).quantize(ZERO)
        for name in ("claims_filed", "claims_paid", "claims_pending"):
            figures[name] = int(row[name])
    days: dict[Any, list[int]] = defaultdict(list)
    paid = (
        select(key, Compensation.claimed_on, Compensation.paid_on)
        .join(DefaultReport, DefaultReport.id == Compensation.default_id)
        .join(Cover, Cover.id == DefaultReport.cover_id)
        .where(_in(Compensation.paid_on, period))
    )
    for k, claimed_on, paid_on in session.execute(_scoped(paid, Cover.region_code, period)):
        days[k].append((paid_on - claimed_on).days)
    recovered = (
        select(key, _sum(Recovery.amount))
        .join(DefaultReport, DefaultReport.id == Recovery.default_id)
        .join(Cover, Cover.id == DefaultReport.cover_id)
        .where(_in(Recovery.recovered_on, period))
        .group_by(key)
    )
    for k, amount in session.execute(_scoped(recovered, Cover.region_code, period)):
        out[k]["recoveries"] = Decimal(amount).quantize(ZERO)
    for k, figures in out.items():
        figures["compensation_rate"] = ratio(figures["compensation_amount"], figures["matured_amount"])
        figures["recovery_rate"] = ratio(figures["recoveries"], figures["compensation_amount"])
        figures["mean_days_to_pay"] = ratio(sum(days[k]), len(days[k])) if days[k] else None
    return dict(out)


def bridge_figures(session: Session, period: Period, dimension: str) -> dict[Any, dict[str, Any]]:
    """The bridges' figures by the dimension's key (ALL: one row keyed TOTAL). Raises ValueError."""
    if dimension not in (*DIMENSIONS, ALL):
        raise ValueError(dimension)
    key = _bridge_key(dimension)
    as_at = period.as_at
    start, end = local_day_bounds(period.first, period.last)
    submitted = and_(BridgeApplication.submitted_at >= start, BridgeApplication.submitted_at < end)
    overdue = and_(
        BridgeApplication.overdue_on <= as_at,
        or_(BridgeApplication.returned_on.is_(None), BridgeApplication.returned_on > as_at),
    )
    returned = _in(BridgeApplication.returned_on, period)
    base = (
        select(
            key.label("key"),
            _when(submitted).label("bridge_applications"),
            _when(_in(BridgeApplication.approved_on, period)).label("bridge_approved"),
            _when(_in(BridgeApplication.disbursed_on, period)).label("bridge_disbursed"),
            _when(_in(BridgeApplication.disbursed_on, period), BridgeApplication.amount).label(
                "bridge_amount"
            ),
            _when(returned).label("bridge_returned"),
            _when(returned, BridgeApplication.fee).label("fee_income"),
            _when(overdue, BridgeApplication.amount).label("overdue_balance"),
            _when(_in(BridgeApplication.breach_on, period)).label("bridge_breaches"),
            _when(
                _in(BridgeApplication.renewal_disbursed_on, period), BridgeApplication.renewal_amount
            ).label("renewals_enabled"),
        )
        .join(Scheme, Scheme.id == BridgeApplication.scheme_id)
        .group_by(key)
    )
    out: dict[Any, dict[str, Any]] = {}
    for row in session.execute(_scoped(base, BridgeApplication.region_code, period)).mappings():
        figures: dict[str, Any] = {}
        for name in (
            "bridge_applications",
            "bridge_approved",
            "bridge_disbursed",
            "bridge_returned",
            "bridge_breaches",
        ):
            figures[name] = int(row[name])
        for name in ("bridge_amount", "fee_income", "overdue_balance", "renewals_enabled"):
            figures[name] = Decimal(row[name]).quantize(ZERO)
        out[row["key"]] = figures
    used: dict[Any, list[int]] = defaultdict(list)
    rows = (
        select(key, BridgeApplication.days_used)
        .join(Scheme, Scheme.id == BridgeApplication.scheme_id)
        .where(returned)
    )
    for k, days in session.execute(_scoped(rows, BridgeApplication.region_code, period)):
        used[k].append(int(days))
    for k, figures in out.items():
        figures["mean_days_used"] = ratio(sum(used[k]), len(used[k])) if used[k] else None
        figures["p90_days_used"] = p90(used[k])
    return out


@dataclass(frozen=True)
class SchemeFigures:
    """A scheme against its own limits, as at a date."""

    scheme_id: int
    code: str
    name: str
    kind: str
    status: str
    paused_reason: str | None
    capital: Decimal
    leverage_limit: Decimal
    balance: Decimal
    # 放大倍数 = balance ÷ capital (guarantors: net assets; funds: the fund).
    leverage: Decimal | None
    # Funds: balance ÷ (leverage limit × fund); guarantors: leverage ÷ its limit.
    utilisation: Decimal | None
    # Bridge funds: money out, its overdue part and share, turnover in the window.
    bridge_out: Decimal
    overdue_share: Decimal | None
    turnover: Decimal | None


def scheme_figures(session: Session, period: Period) -> list[SchemeFigures]:
    """Every scheme against its limits as at the period's last day (turnover over the window)."""
    covers = cover_figures(session, Period(period.first, period.last), "scheme")
    bridges = bridge_figures(session, Period(period.first, period.last), "scheme")
    out_rows = session.execute(
        select(
            BridgeApplication.scheme_id,
            _when(
                and_(
                    BridgeApplication.disbursed_on <= period.as_at,
                    or_(
                        BridgeApplication.returned_on.is_(None), BridgeApplication.returned_on > period.as_at
                    ),
                ),
                BridgeApplication.amount,
            ),
        ).group_by(BridgeApplication.scheme_id)
    ).all()
    out = {sid: Decimal(amount).quantize(ZERO) for sid, amount in out_rows}
    result = []
    for scheme in session.scalars(select(Scheme).order_by(Scheme.id)):
        balance = covers.get(scheme.id, {}).get("balance_in_force", ZERO)
        leverage = ratio(balance, scheme.capital)
        is_bridge = scheme.kind == SchemeKind.BRIDGE_FUND
        overdue = bridges.get(scheme.id, {}).get("overdue_balance", ZERO)
        result.append(
            SchemeFigures(
                scheme_id=scheme.id,
                code=scheme.code,
                name=scheme.name,
                kind=scheme.kind,
                status=scheme.status,
                paused_reason=scheme.paused_reason,
                capital=scheme.capital,
                leverage_limit=scheme.leverage_limit,
                balance=balance,
                leverage=leverage,
                utilisation=ratio(balance, scheme.capital * scheme.leverage_limit) if not is_bridge else None,
                bridge_out=out.get(scheme.id, ZERO),
                overdue_share=ratio(overdue, scheme.capital) if is_bridge else None,
                turnover=ratio(bridges.get(scheme.id, {}).get("bridge_amount", ZERO), scheme.capital)
                if is_bridge
                else None,
            )
        )
    return result


@dataclass(frozen=True)
class CapLine:
    """One bank's portfolio under a scheme against the compensation cap (代偿率上限)."""

    scheme_id: int
    institution_id: int
    covered: Decimal
    compensated: Decimal
    cap: Decimal
    headroom: Decimal
    used_share: Decimal | None


def cap_monitor(session: Session, scheme_id: int | None = None) -> list[CapLine]:
    """Each bank's covered amount under each guarantee scheme, the guarantee side's share of its
    defaults so far, the cap (rate × covered) and the headroom left, tightest first."""
    covered = (
        select(Cover.scheme_id, Cover.institution_id, _sum(Cover.amount).label("covered"))
        .where(Cover.activated_on.is_not(None))
        .group_by(Cover.scheme_id, Cover.institution_id)
    )
    if scheme_id is not None:
        covered = covered.where(Cover.scheme_id == scheme_id)
    used: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for sid, iid, loss, shares in session.execute(
        select(Cover.scheme_id, Cover.institution_id, DefaultReport.loss, DefaultReport.shares).join(
            Cover, Cover.id == DefaultReport.cover_id
        )
    ):
        used[(sid, iid)] += loss - Decimal(shares.get("bank", "0"))
    rates = dict(session.execute(select(Scheme.id, Scheme.comp_cap_rate)).all())
    lines = []
    for sid, iid, amount in session.execute(covered):
        cap = (Decimal(amount) * rates[sid]).quantize(ZERO)
        spent = used[(sid, iid)]
        lines.append(
            CapLine(sid, iid, Decimal(amount).quantize(ZERO), spent, cap, cap - spent, ratio(spent, cap))
        )
    return sorted(lines, key=lambda line: (line.headroom, line.scheme_id, line.institution_id))
