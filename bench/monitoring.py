"""Post-loan monitoring throughput: 100,000 monitored loans with 24 months of electricity, tax and bank
flow, in 500 peer groups (county x industry).

No database. Two ways of turning the same monthly arrays into warning levels, timed in one run:

* floor: the same arithmetic in bare numpy on dense arrays (no gaps, no NaN handling, the starting
  rules' thresholds written in, one percentile sort per signal): the fastest this gets in numpy here.
* project: ``monitoring.signals.compute_signals`` + ``evaluate`` + ``worst`` over a ``Panel``, with the
  rules as data (``STARTING_RULES``), missing months, persistence windows and peer percentiles: what
  ``monitoring.warnings.monitor_all`` runs over every monitored loan.

Prints loans per second for each, the project's ratio to the floor (goal: at least 0.3), and how many
loans get the same level from both in every month. No timing is asserted.

    .venv/bin/python bench/monitoring.py [--loans 100000] [--months 24] [--runs 3] [--seed 20261206]
    .venv/bin/python bench/monitoring.py --tiny   # a second: does it still run?
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Run as a script, this file's directory would come first on sys.path and its name would hide the
# monitoring package: the repository root goes there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from monitoring.rules import STARTING_RULES
from monitoring.signals import Panel, compute_signals, evaluate, worst

GOAL = 0.3
Matrix = npt.NDArray[np.float64]


def make_panel(loans: int, months: int, groups: int, seed: int) -> Panel:
    rng = np.random.default_rng(seed)
    season = 1 + 0.15 * np.sin(np.arange(months) / 12 * 2 * np.pi)
    scale = rng.uniform(8_000, 60_000, size=(loans, 1))
    shock = np.ones((loans, months))
    bad = rng.random(loans) < 0.08
    start = rng.integers(months - 8, months, size=loans)
    cols = np.arange(months)[None, :]
    shock = np.where(bad[:, None] & (cols >= start[:, None]), rng.uniform(0.2, 0.7, size=(loans, 1)), shock)
    kwh = scale * season * shock * rng.uniform(0.93, 1.07, size=(loans, months))
    sales = kwh * 11 * rng.uniform(0.9, 1.1, size=(loans, months))
    inflow = sales * rng.uniform(0.9, 1.1, size=(loans, months))
    grade = np.where(bad[:, None] & (cols >= start[:, None] + 2), 2.0, 0.0)
    return Panel(
        kwh=kwh,
        bill_overdue=(bad[:, None] & (cols > start[:, None]) & (rng.random((loans, months)) < 0.5)).astype(
            float
        ),
        sales=sales,
        grade=grade,
        arrears=np.zeros((loans, months)),
        inflow=inflow,
        balance=inflow * rng.uniform(0.2, 0.6, size=(loans, months)),
        instalment=(scale[:, 0] * 11 * 2.2 / 24 * 1.05),
        group=rng.integers(0, groups, size=loans),
    )


def _window_sum(x: Matrix, w: int) -> Matrix:
    c = np.cumsum(x, axis=1)
    out = np.full(x.shape, np.nan)
    out[:, w - 1] = c[:, w - 1]
    out[:, w:] = c[:, w:] - c[:, :-w]
    return out


def _lag(x: Matrix, k: int) -> Matrix:
    out = np.full(x.shape, np.nan)
    out[:, k:] = x[:, :-k]
    return out


def floor(p: Panel) -> npt.NDArray[np.int8]:
    """The starting rules in bare numpy, dense data: level per loan and month."""
    s3 = _window_sum(p.kwh, 3)
    elec_yoy = s3 / _lag(s3, 12) - 1
    elec_12 = p.kwh / (_lag(_window_sum(p.kwh, 12), 1) / 12) - 1
    bills = _window_sum(p.bill_overdue, 6)
    bills[:, :5] = np.cumsum(p.bill_overdue, axis=1)[:, :5]
    t3 = _window_sum(p.sales, 3)
    sales_yoy = t3 / _lag(t3, 12) - 1
    inflow_6 = p.inflow / (_lag(_window_sum(p.inflow, 6), 1) / 6) - 1
    cover = p.balance / p.instalment[:, None]
    for v in (elec_yoy, sales_yoy, inflow_6):  # the peer percentile, as the project computes it
        _percentile(v, p.group)
    level = np.zeros(p.kwh.shape, dtype=np.int8)
    elec = np.where(elec_yoy <= -0.5, 2, np.where(elec_yoy <= -0.3, 1, 0))
    red_in = (inflow_6 <= -0.6).astype(np.int32)
    yellow_in = (inflow_6 <= -0.4).astype(np.int32)
    inflow = np.where(_window_sum(red_in, 3) >= 2, 2, np.where(_window_sum(yellow_in, 3) >= 2, 1, 0))
    inflow[:, :2] = 0
    for part in (
        elec,
        np.where(elec_12 <= -0.9, 2, 0),
        np.where(bills >= 2, 2, np.where(bills >= 1, 1, 0)),
        np.where(p.grade >= 3, 2, np.where(p.grade >= 2, 1, 0)),
        np.where(p.arrears >= 1, 2, 0),
        np.where(sales_yoy <= -0.4, 2, np.where(sales_yoy <= -0.25, 1, 0)),
        inflow,
        np.where(cover <= 0.999, 2, np.where(cover <= 1.5, 1, 0)),
        np.where((elec >= 1) & (inflow >= 1), 2, 0),
    ):
        np.maximum(level, part, out=level, casting="unsafe")
    return level


def _percentile(value: Matrix, group: npt.NDArray[np.int64]) -> Matrix:
    months = value.shape[1]
    valid = ~np.isnan(value)
    key = (group[:, None] * months + np.arange(months)[None, :])[valid]
    order = np.lexsort((value[valid], key))
    k = key[order]
    start = np.searchsorted(k, k, side="left")
    size = np.searchsorted(k, k, side="right") - start
    pct = (np.arange(k.size) - start) / np.maximum(size - 1, 1)
    out = np.full(value.shape, np.nan)
    flat = np.empty(k.size)
    flat[order] = pct
    out[valid] = flat
    return out


def project(p: Panel) -> npt.NDArray[np.int8]:
    return worst(evaluate(STARTING_RULES, compute_signals(p)))


def best_of(fn: Callable[[], npt.NDArray[np.int8]], runs: int) -> tuple[float, npt.NDArray[np.int8]]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="2,000 loans, one run: does it still run?")
    parser.add_argument("--loans", type=int)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--groups", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    loans = args.loans or (2_000 if args.tiny else 100_000)
    groups = args.groups or max(1, loans // 200)
    runs = args.runs or (1 if args.tiny else 3)
    panel = make_panel(loans, args.months, groups, args.seed)
    floor_s, floor_levels = best_of(lambda: floor(panel), runs)
    project_s, project_levels = best_of(lambda: project(panel), runs)
    print(f"{loans:,} loans x {args.months} months, {groups:,} peer groups, best of {runs}")
    print(f"{'path':<28} {'loans/s':>12} {'ratio':>6}")
    for name, seconds in (("floor: bare numpy, dense", floor_s), ("project: signals + rules", project_s)):
        print(f"{name:<28} {loans / seconds:>12,.0f} {floor_s / seconds:>6.2f}")
    # Months before a full year of history (plus the 3-month window) have no yearly baseline in either.
    same = int(np.sum(np.all(floor_levels[:, 14:] == project_levels[:, 14:], axis=1)))
    print(f"levels equal, project vs floor: {same:,} of {loans:,}")
    warned = int(np.sum(project_levels[:, -1] > 0))
    print(f"loans warned in the last month: {warned:,} (red {int(np.sum(project_levels[:, -1] == 2)):,})")
    ratio = floor_s / project_s
    if args.tiny:
        print(f"ratio to the floor {ratio:.2f} (goal {GOAL}): not graded at --tiny")
    else:
        print(f"ratio to the floor {ratio:.2f} (goal {GOAL}): {'met' if ratio >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
