"""Public credit enhancement as statistics tables, shared by the exports and the monthly report: the
figures of guarantees.figures by county, bank, guarantor (the scheme's operator) or scheme with a 合计
row, every scheme against its limits, and every bank's portfolio against the compensation cap.
Chinese headers, amounts in yuan (the report shows them in 万元), rates as fractions; no code reaches a
cell (counties, banks and schemes by name, kinds and statuses by their Chinese labels).

A county's window bounds the figures to its borrowers. A scheme's limits (its capital, 放大倍数, the
cap per bank portfolio) are properties of the whole scheme, so those two tables are the city's only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermissionDeniedError
from core.i18n import N_
from core.reference import REGIONS
from guarantees.codes import GUARANTEE_LABELS
from guarantees.figures import (
    ALL,
    BRIDGE_FIGURES,
    COVER_FIGURES,
    TOTAL,
    Period,
    bridge_figures,
    cap_monitor,
    cover_figures,
    scheme_figures,
)
from guarantees.models import Scheme
from products.models import Institution
from stats.tables import Column, Table
from stats.windows import Window

Translate = Callable[[str], str]

# The export's and report's grouping (the statistics' vocabulary) -> guarantees.figures' dimension.
GUARANTEE_BY = {"county": "region", "institution": "bank", "guarantor": "guarantor", "scheme": "scheme"}
BY_LABELS = {
    "county": N_("县（市、区）"),
    "institution": N_("金融机构"),
    "guarantor": N_("担保机构/资金管理方"),
    "scheme": N_("方案"),
}
AMOUNTS = frozenset(
    {
        "balance_in_force", "new_amount", "matured_amount", "compensation_amount", "claims_pending_amount",
        "recoveries", "bridge_amount", "fee_income", "overdue_balance", "renewals_enabled",
    }
)  # fmt: skip
SHARES = frozenset({"avg_fee_rate", "compensation_rate", "recovery_rate"})
NUMBERS = frozenset({"mean_days_to_pay", "mean_days_used"})
_FIGURE_NAMES = GUARANTEE_LABELS["guarantee_figure"]
GUARANTEE_TABLE_TITLES = {
    "guarantees": N_("政府性融资担保与风险补偿"),
    "bridges": N_("续贷周转金"),
    "scheme_limits": N_("方案额度、放大倍数与周转"),
    "cap_monitor": N_("代偿上限监测"),
}


def figure_kind(code: str) -> str:
    """How a figure is formatted: amount (yuan), share (a fraction), number (days, 2 places) or count."""
    if code in AMOUNTS:
        return "amount"
    if code in SHARES:
        return "share"
    return "number" if code in NUMBERS else "count"


def figure_label(code: str, _: Translate = N_) -> str:
    """A figure's column header: its Chinese name, with its unit where it has one."""
    name = _(_FIGURE_NAMES[code])
    if code in AMOUNTS:
        return f"{name}（元）"
    if code in NUMBERS:
        return f"{name}（天）"
    return name


def figure_column(code: str, _: Translate = N_) -> Column:
    return Column(code, figure_label(code, _), figure_kind(code))


def period_of(window: Window) -> Period:
    return Period(window.first, window.last, window.county)


def _names(session: Session, by: str) -> dict[Any, str]:
    if by in ("institution", "guarantor"):
        return dict(session.execute(select(Institution.id, Institution.name)).all())
    if by == "scheme":
        return dict(session.execute(select(Scheme.id, Scheme.name)).all())
    return dict(REGIONS)


def _grouped(
    session: Session,
    window: Window,
    by: str,
    compute: Callable[[Session, Period, str], dict[Any, dict[str, Any]]],
    codes: tuple[str, ...],
    order: str,
    _: Translate,
) -> tuple[list[Column], list[dict[str, Any]]]:
    if by not in GUARANTEE_BY:
        raise ValueError(by)
    period = period_of(window)
    names = _names(session, by)
    groups = compute(session, period, GUARANTEE_BY[by])
    rows = sorted(
        ({"label": _(names.get(key, str(key))), "key": key, **figures} for key, figures in groups.items()),
        key=lambda row: (-row[order], row["label"]),
    )
    total = compute(session, period, ALL).get(TOTAL)
    if total is not None:
        rows.append({"label": _("合计"), "key": None, **total})
    columns = [Column("label", _(BY_LABELS[by])), *[figure_column(code, _) for code in codes]]
    return columns, rows


def cover_table(session: Session, window: Window, by: str, _: Translate = N_) -> Table:
    """Guarantees and compensation funds by `by` (GUARANTEE_BY) with a 合计 row, largest balance first.
    Raises ValueError for an unknown grouping."""
    columns, rows = _grouped(session, window, by, cover_figures, COVER_FIGURES, "balance_in_force", _)
    table = Table("guarantees", _(GUARANTEE_TABLE_TITLES["guarantees"]), columns, rows)
    table.filters.append((_("维度"), _(BY_LABELS[by])))
    table.filters.append((_("截至日"), window.last.isoformat()))
    return table


def bridge_table(session: Session, window: Window, by: str, _: Translate = N_) -> Table:
    """Bridge funds by `by` with a 合计 row, largest amount out first. Raises ValueError."""
    columns, rows = _grouped(session, window, by, bridge_figures, BRIDGE_FIGURES, "bridge_amount", _)
    table = Table("bridges", _(GUARANTEE_TABLE_TITLES["bridges"]), columns, rows)
    table.filters.append((_("维度"), _(BY_LABELS[by])))
    table.filters.append((_("截至日"), window.last.isoformat()))
    return table


def _city_only(window: Window) -> None:
    if window.county is not None:
        raise PermissionDeniedError("a scheme's limits are the whole scheme's: the city's")


SCHEME_COLUMNS = (
    ("name", N_("方案"), "text"),
    ("kind", N_("类型"), "text"),
    ("status", N_("状态"), "text"),
    ("capital", N_("资本或资金规模（元）"), "amount"),
    ("balance", N_("在保余额（元）"), "amount"),
    ("leverage", N_("放大倍数（倍）"), "number"),
    ("leverage_limit", N_("放大倍数上限（倍）"), "number"),
    ("utilisation", N_("资金使用率"), "share"),
    ("bridge_out", N_("周转金占用（元）"), "amount"),
    ("overdue_share", N_("逾期周转金占资金比例"), "share"),
    ("turnover", N_("周转次数（次）"), "number"),
)


# The columns of each kind of scheme: guarantees and funds against their multiple, bridge funds
# against their money out, overdue share and turnover.
COVER_SCHEME_COLUMNS = (
    "name",
    "kind",
    "status",
    "capital",
    "balance",
    "leverage",
    "leverage_limit",
    "utilisation",
)
BRIDGE_SCHEME_COLUMNS = ("name", "status", "capital", "bridge_out", "overdue_share", "turnover")


def scheme_table(session: Session, window: Window, _: Translate = N_, *, only: str | None = None) -> Table:
    """Every scheme against its limits as at the window's last day (turnover over the window); `only`
    "covers" (guarantees and funds, their columns) or "bridges" (bridge funds, theirs). The city's only.
    Raises PermissionDeniedError for a county's window."""
    _city_only(window)
    labels = GUARANTEE_LABELS
    rows = []
    for s in scheme_figures(session, period_of(window)):
        is_bridge = s.kind == "bridge_fund"
        if only is not None and is_bridge != (only == "bridges"):
            continue
        rows.append(
            {
                "name": s.name,
                "kind": _(labels["scheme_kind"][s.kind]),
                "status": _(labels["scheme_status"][s.status])
                + (f"（{s.paused_reason}）" if s.paused_reason else ""),
                "capital": s.capital,
                "balance": None if is_bridge else s.balance,
                "leverage": None if is_bridge else s.leverage,
                "leverage_limit": None if is_bridge else s.leverage_limit,
                "utilisation": s.utilisation,
                "bridge_out": s.bridge_out if is_bridge else None,
                "overdue_share": s.overdue_share,
                "turnover": s.turnover,
            }
        )
    shown = {"covers": COVER_SCHEME_COLUMNS, "bridges": BRIDGE_SCHEME_COLUMNS}.get(only or "")
    columns = [
        Column(code, _(text), kind) for code, text, kind in SCHEME_COLUMNS if not shown or code in shown
    ]
    title = {"bridges": N_("周转金占用与周转"), "covers": N_("方案额度与放大倍数")}.get(only or "")
    table = Table("scheme_limits", _(title or GUARANTEE_TABLE_TITLES["scheme_limits"]), columns, rows)
    table.filters.append((_("截至日"), window.last.isoformat()))
    return table


CAP_COLUMNS = (
    ("scheme", N_("方案"), "text"),
    ("bank", N_("金融机构"), "text"),
    ("covered", N_("累计生效担保金额（元）"), "amount"),
    ("cap", N_("代偿上限（元）"), "amount"),
    ("compensated", N_("担保方已承担损失（元）"), "amount"),
    ("headroom", N_("剩余空间（元）"), "amount"),
    ("used_share", N_("上限已用比例"), "share"),
)


def cap_table(session: Session, window: Window, _: Translate = N_) -> Table:
    """Each bank's portfolio under each scheme against the compensation cap, tightest first (all covers
    to date: the cap is on the portfolio, not on a window); the city's only. Raises
    PermissionDeniedError for a county's window."""
    _city_only(window)
    schemes, banks = _names(session, "scheme"), _names(session, "institution")
    rows = [
        {
            "scheme": schemes.get(line.scheme_id, ""),
            "bank": banks.get(line.institution_id, ""),
            "covered": line.covered,
            "cap": line.cap,
            "compensated": line.compensated,
            "headroom": line.headroom,
            "used_share": line.used_share,
        }
        for line in cap_monitor(session)
    ]
    columns = [Column(code, _(text), kind) for code, text, kind in CAP_COLUMNS]
    return Table("cap_monitor", _(GUARANTEE_TABLE_TITLES["cap_monitor"]), columns, rows)
