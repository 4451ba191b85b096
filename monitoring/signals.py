"""Post-loan signals and rule levels over a panel of loans x months: pure, vectorised numpy, no I/O.

A panel holds one row per monitored loan and one column per calendar month (NaN where no consented
record exists). Every signal compares the borrower with its own seasonal baseline (the same months last
year, the trailing 12 or 6 months) and, as a percentile, with its peers: the other loans of the same
peer group (industry section and county) in the same month. The monitoring job builds a small panel
of one peer group; the bench and the quality figures build large ones; both go through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from monitoring.rules import Rule

Matrix = npt.NDArray[np.float64]
Levels = npt.NDArray[np.int8]

# signal -> (source, whether a lower value is worse)
SIGNALS: dict[str, str] = {
    "elec_3m_yoy": "electricity",
    "elec_vs_12m": "electricity",
    "bills_overdue_6m": "electricity",
    "sales_3m_yoy": "tax",
    "tax_grade": "tax",
    "tax_arrears": "tax",
    "inflow_vs_6m": "bank_flow",
    "balance_cover": "bank_flow",
}
# 纳税信用级别 as a number, worse is higher (M, new taxpayers, ranks with B).
GRADE_VALUES = {"A": 0.0, "B": 1.0, "M": 1.0, "C": 2.0, "D": 3.0}
MIN_PEERS = 5
NONE = np.int8(0)
YELLOW = np.int8(1)
RED = np.int8(2)


@dataclass(frozen=True)
class Panel:
    """Monthly data of N loans over M consecutive months, NaN where absent; `instalment` (N,) is each
    loan's next instalment in yuan, `group` (N,) its peer group number."""

    kwh: Matrix
    bill_overdue: Matrix
    sales: Matrix
    grade: Matrix
    arrears: Matrix
    inflow: Matrix
    balance: Matrix
    instalment: Matrix
    group: npt.NDArray[np.int64]

    @classmethod
    def empty(cls, loans: int, months: int) -> Panel:
        def nan() -> Matrix:
            return np.full((loans, months), np.nan)

        return cls(
            kwh=nan(), bill_overdue=nan(), sales=nan(), grade=nan(), arrears=nan(), inflow=nan(),
            balance=nan(), instalment=np.full(loans, np.nan), group=np.zeros(loans, dtype=np.int64),
        )  # fmt: skip


@dataclass(frozen=True)
class Signals:
    """Per signal (N, M): the value the rules compare, the current figure and the baseline it was set
    against (shown as evidence), and the loan's percentile among its peers (0 = lowest)."""

    value: dict[str, Matrix]
    current: dict[str, Matrix]
    baseline: dict[str, Matrix]
    peer_pct: dict[str, Matrix]
    peer_count: dict[str, Matrix]


def _rolling_sum(x: Matrix, window: int, *, complete: bool = True) -> Matrix:
    """Sum of x over the `window` months ending at each month; NaN unless every month is present
    (`complete`) or, otherwise, at least one is."""
    valid = ~np.isnan(x)
    zeros = np.zeros((x.shape[0], 1))
    sums = np.concatenate([zeros, np.cumsum(np.where(valid, x, 0.0), axis=1)], axis=1)
    counts = np.concatenate([zeros, np.cumsum(valid, axis=1, dtype=np.float64)], axis=1)
    out = np.full(x.shape, np.nan)
    if window > x.shape[1]:
        return out
    total = sums[:, window:] - sums[:, :-window]
    present = counts[:, window:] - counts[:, :-window]
    out[:, window - 1 :] = np.where(present == window if complete else present > 0, total, np.nan)
    return out


def _shift(x: Matrix, months: int) -> Matrix:
    """x moved `months` later: the value at month t is x at t - months."""
    out = np.full(x.shape, np.nan)
    if months < x.shape[1]:
        out[:, months:] = x[:, : x.shape[1] - months]
    return out


def _change(current: Matrix, baseline: Matrix) -> Matrix:
    """current / baseline - 1 where the baseline is positive, else NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(baseline > 0, current / baseline - 1.0, np.nan)


def peer_percentiles(value: Matrix, group: npt.NDArray[np.int64]) -> tuple[Matrix, Matrix]:
    """Each loan's percentile in its peer group for each month (the share of the other peers with a
    lower value; ties share the lowest rank) and the group's size; NaN below MIN_PEERS."""
    loans, months = value.shape
    valid = ~np.isnan(value)
    key = (group[:, None] * months + np.arange(months)[None, :])[valid]
    values = value[valid]
    order = np.lexsort((values, key))
    k, v = key[order], values[order]
    idx = np.arange(k.size)
    new_group = np.ones(k.size, dtype=bool)
    new_group[1:] = k[1:] != k[:-1]
    new_value = new_group.copy()
    new_value[1:] |= v[1:] != v[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0))
    value_start = np.maximum.accumulate(np.where(new_value, idx, 0))
    group_number = np.cumsum(new_group) - 1
    size = np.bincount(group_number)[group_number].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(size >= MIN_PEERS, (value_start - group_start) / (size - 1), np.nan)
    flat_pct = np.empty(k.size)
    flat_pct[order] = pct
    flat_size = np.empty(k.size)
    flat_size[order] = size
    out_pct = np.full((loans, months), np.nan)
    out_size = np.full((loans, months), np.nan)
    out_pct[valid] = flat_pct
    out_size[valid] = flat_size
    return out_pct, out_size


def compute_signals(panel: Panel, *, with_peers: bool = True) -> Signals:
    """Every signal of every loan and month of the panel."""
    kwh3 = _rolling_sum(panel.kwh, 3)
    kwh3_last_year = _shift(kwh3, 12)
    kwh12_mean = _shift(_rolling_sum(panel.kwh, 12), 1) / 12.0
    sales3 = _rolling_sum(panel.sales, 3)
    sales3_last_year = _shift(sales3, 12)
    inflow6_mean = _shift(_rolling_sum(panel.inflow, 6), 1) / 6.0
    instalment = np.broadcast_to(panel.instalment[:, None], panel.balance.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(instalment > 0, panel.balance / instalment, np.nan)
    current = {
        "elec_3m_yoy": kwh3,
        "elec_vs_12m": panel.kwh,
        "bills_overdue_6m": _rolling_sum(panel.bill_overdue, 6, complete=False),
        "sales_3m_yoy": sales3,
        "tax_grade": panel.grade,
        "tax_arrears": panel.arrears,
        "inflow_vs_6m": panel.inflow,
        "balance_cover": panel.balance,
    }
    baseline = {
        "elec_3m_yoy": kwh3_last_year,
        "elec_vs_12m": kwh12_mean,
        "bills_overdue_6m": np.full(panel.kwh.shape, np.nan),
        "sales_3m_yoy": sales3_last_year,
        "tax_grade": _shift(panel.grade, 12),
        "tax_arrears": np.full(panel.kwh.shape, np.nan),
        "inflow_vs_6m": inflow6_mean,
        "balance_cover": np.array(instalment, dtype=np.float64),
    }
    value = {
        "elec_3m_yoy": _change(kwh3, kwh3_last_year),
        "elec_vs_12m": _change(panel.kwh, kwh12_mean),
        "bills_overdue_6m": current["bills_overdue_6m"],
        "sales_3m_yoy": _change(sales3, sales3_last_year),
        "tax_grade": panel.grade,
        "tax_arrears": panel.arrears,
        "inflow_vs_6m": _change(panel.inflow, inflow6_mean),
        "balance_cover": cover,
    }
    peer_pct: dict[str, Matrix] = {}
    peer_count: dict[str, Matrix] = {}
    for name in ("elec_3m_yoy", "sales_3m_yoy", "inflow_vs_6m") if with_peers else ():
        peer_pct[name], peer_count[name] = peer_percentiles(value[name], panel.group)
    return Signals(value=value, current=current, baseline=baseline, peer_pct=peer_pct, peer_count=peer_count)


def _persisted(mask: npt.NDArray[np.bool_], persist: int, window: int) -> npt.NDArray[np.bool_]:
    """Whether the condition held in at least `persist` of the `window` months ending at each month."""
    if window <= 1:
        return mask
    counts = np.cumsum(mask, axis=1, dtype=np.int32)
    before = np.zeros_like(counts)
    before[:, window:] = counts[:, :-window]
    result: npt.NDArray[np.bool_] = (counts - before) >= persist
    return result


def evaluate(rules: Sequence[Rule], signals: Signals) -> dict[str, Levels]:
    """The level (0 none, 1 yellow, 2 red) each enabled rule gives each loan and month."""
    levels: dict[str, Levels] = {}
    for rule in rules:
        if not rule.enabled or rule.signal is None:
            continue
        value = signals.value[rule.signal]
        allowed = np.ones(value.shape, dtype=bool)
        if rule.peer_pct_max is not None and rule.signal in signals.peer_pct:
            allowed = ~(signals.peer_pct[rule.signal] > rule.peer_pct_max)
        level = np.zeros(value.shape, dtype=np.int8)
        for code, threshold in ((YELLOW, rule.yellow), (RED, rule.red)):
            if threshold is None:
                continue
            hit = (value <= threshold) if rule.direction == "below" else (value >= threshold)
            hit = _persisted(hit & allowed, rule.persist_months, rule.window_months)
            level = np.where(hit, code, level).astype(np.int8)
        levels[rule.code] = level
    for rule in rules:
        if rule.enabled and rule.signal is None and rule.requires:
            parts = [levels[code] >= YELLOW for code in rule.requires if code in levels]
            both = np.logical_and.reduce(parts) if len(parts) == len(rule.requires) else None
            shape = next(iter(levels.values())).shape if levels else (0, 0)
            levels[rule.code] = (
                np.where(both, RED, NONE).astype(np.int8) if both is not None else np.zeros(shape, np.int8)
            )
    return levels


def worst(levels: Mapping[str, Levels]) -> Levels:
    """The highest level any rule gives each loan and month."""
    if not levels:
        return np.zeros((0, 0), dtype=np.int8)
    result: Levels = np.maximum.reduce(list(levels.values())).astype(np.int8)
    return result
