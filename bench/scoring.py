"""Scoring throughput: 100,000 synthetic borrowers with 24 months of electricity, tax and bank flow.

No database. Three ways of turning the same monthly arrays into scores, timed in one run:

* floor: the features' arithmetic on dense arrays in bare numpy (the window is simply the last 12
  columns, no gaps, no masks) and the scorecard's points looked up with ``searchsorted``: no objects,
  nothing general. The fastest this arithmetic gets in numpy on this machine.
* vectorised: the project's ``compute_features_many`` + ``Scorecard.score_many``, which handle gaps,
  ragged histories, ``as_of`` and missing values, as a batch rescoring would use them.
* per borrower: the project's ``compute_features`` + ``Scorecard.score`` on record objects (Decimal
  amounts), as the web app and the jobs score one borrower; on a sample, because the whole population
  would take minutes (the rate is per profile either way).

Prints profiles per second and each path's ratio to the floor, and how many scores the paths share.
No timing is asserted.

    .venv/bin/python bench/scoring.py [--borrowers 100000] [--sample 2000] [--seed 20261122]
    .venv/bin/python bench/scoring.py --tiny   # under a second: does it still run?
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from credit_profile.expert import expert_scorecard
from credit_profile.features import (
    TAX_CREDIT_RATINGS,
    BankFlowMonth,
    BankFlowPanel,
    ElectricityMonth,
    ElectricityPanel,
    TaxMonth,
    TaxPanel,
    compute_features,
    compute_features_many,
    period_index,
    period_label,
)
from credit_profile.scorecard import Scorecard
from credit_profile.scorecard_terms import CategoricalCharacteristic, NumericCharacteristic

MONTHS = 24
FIRST_PERIOD = "2024-11"
Array = npt.NDArray[Any]
PointsTables = list[tuple[str, Array, Array, float]]
# The sizes of `--tiny`, which the test suite runs (tests/bench/test_benches.py) so that this bench cannot
# rot: every path of the full run, no figure worth reading.
TINY = {"borrowers": 2_000, "sample": 100}


def synthetic_panels(borrowers: int, seed: int) -> tuple[ElectricityPanel, TaxPanel, BankFlowPanel]:
    """Dense monthly arrays in yuan with two decimals: seasonal use with a trend, sales tracking it."""
    rng = np.random.default_rng(seed)
    shape = (borrowers, MONTHS)
    months = np.arange(MONTHS)
    scale = rng.lognormal(8, 1.2, size=(borrowers, 1))
    trend = rng.normal(0, 0.02, size=(borrowers, 1))
    season = 1 + 0.15 * np.sin(2 * np.pi * months / 12)
    level = scale * (1 + trend) ** months * season * rng.uniform(0.85, 1.15, size=shape)
    level[rng.random(shape) < 0.02] = 0.0
    sales = level * 12 * rng.uniform(0.8, 1.2, size=shape)
    inflow = sales * rng.uniform(0.85, 1.15, size=shape)
    outflow = inflow * rng.uniform(0.8, 1.15, size=shape)
    rating = rng.choice(len(TAX_CREDIT_RATINGS), p=[0.3, 0.35, 0.2, 0.1, 0.05], size=(borrowers, 1))
    return (
        ElectricityPanel(kwh=np.round(level, 2)),
        TaxPanel(
            sales=np.round(sales, 2),
            tax_paid=np.round(sales * rng.uniform(0.01, 0.05, size=shape), 2),
            credit_rating=np.repeat(rating, MONTHS, axis=1),
            arrears=rng.random(shape) < 0.01,
        ),
        BankFlowPanel(
            inflow=np.round(inflow, 2),
            outflow=np.round(outflow, 2),
            end_balance=np.round(inflow * rng.uniform(-0.1, 0.6, size=shape), 2),
        ),
    )


# --- floor: the same arithmetic for dense panels, bare numpy -----------------------------------------


def _cv(window: Array, mean: Array) -> Array:
    return np.where(mean > 0, window.std(axis=1) / np.where(mean > 0, mean, 1.0), np.nan)


def _ratio(numerator: Array, denominator: Array) -> Array:
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def floor_features(electricity: ElectricityPanel, tax: TaxPanel, bank: BankFlowPanel) -> dict[str, Array]:
    kwh = electricity.kwh[:, -12:]
    level = kwh.mean(axis=1)
    x = np.arange(12.0) - 5.5
    slope = (x * (kwh - level[:, None])).sum(axis=1) / (x * x).sum()
    sales = tax.sales[:, -12:].sum(axis=1)
    inflow = bank.inflow[:, -12:]
    total_in = inflow.sum(axis=1)
    return {
        "elec_kwh_level": level,
        "elec_trend_12m": _ratio(slope * 12, level),
        "elec_volatility": _cv(kwh, level),
        "elec_yoy": _ratio(kwh.sum(axis=1), electricity.kwh[:, :12].sum(axis=1)) - 1,
        "elec_zero_months": (kwh == 0).sum(axis=1).astype(np.float64),
        "tax_sales_12m": sales,
        "tax_sales_yoy": _ratio(sales, tax.sales[:, :12].sum(axis=1)) - 1,
        "tax_burden": _ratio(tax.tax_paid[:, -12:].sum(axis=1), sales),
        "tax_credit_rating": tax.credit_rating[:, -1],  # integer codes; looked up below
        "tax_arrears_12m": tax.arrears[:, -12:].any(axis=1).astype(np.float64),
        "bank_inflow_avg": total_in / 12,
        "bank_inflow_cv": _cv(inflow, total_in / 12),
        "bank_net_flow_ratio": _ratio(total_in - bank.outflow[:, -12:].sum(axis=1), total_in),
        "bank_min_balance": bank.end_balance[:, -12:].min(axis=1),
        "bank_outflow_exceeds_months": (bank.outflow[:, -12:] > inflow).sum(axis=1).astype(np.float64),
    }


def floor_points_tables(card: Scorecard) -> PointsTables:
    """Per characteristic: bin upper bounds, points per bin (or per rating code), missing points."""
    tables = []
    for characteristic in card.characteristics:
        if isinstance(characteristic, NumericCharacteristic):
            uppers = np.array([b.upper for b in characteristic.bins if b.upper is not None], dtype=np.float64)
            points = np.array([b.points for b in characteristic.bins], dtype=np.float64)
        else:
            assert isinstance(characteristic, CategoricalCharacteristic)
            uppers = np.empty(0)
            by_code = [characteristic.points_for(code) for code in TAX_CREDIT_RATINGS]
            points = np.array(by_code, dtype=np.float64)
        tables.append((characteristic.name, uppers, points, characteristic.missing_points))
    return tables


def floor_scores(features: dict[str, Array], card: Scorecard, tables: PointsTables) -> Array:
    total = np.full(features["elec_kwh_level"].shape, card.offset_points)
    for name, uppers, points, missing in tables:
        values = features[name]
        if name == "tax_credit_rating":
            total = total + points[values]
        else:
            earned = points[np.searchsorted(uppers, values, side="right")]
            total = total + np.where(np.isnan(values), missing, earned)
    return np.clip(np.floor(total + 0.5), card.scaling.min_score, card.scaling.max_score).astype(np.int64)


# --- the project's paths ------------------------------------------------------------------------------


def records(
    row: int, electricity: ElectricityPanel, tax: TaxPanel, bank: BankFlowPanel
) -> tuple[list[ElectricityMonth], list[TaxMonth], list[BankFlowMonth]]:
    """One borrower's arrays as the record objects the database rows become (Decimal amounts)."""
    base = period_index(FIRST_PERIOD)
    periods = [period_label(base + j) for j in range(MONTHS)]

    def dec(value: float) -> Decimal:
        return Decimal(repr(float(value)))

    return (
        [ElectricityMonth(p, dec(electricity.kwh[row, j]), Decimal(0)) for j, p in enumerate(periods)],
        [
            TaxMonth(
                p,
                dec(tax.sales[row, j]),
                dec(tax.tax_paid[row, j]),
                TAX_CREDIT_RATINGS[tax.credit_rating[row, j]],
                bool(tax.arrears[row, j]),
            )
            for j, p in enumerate(periods)
        ],
        [
            BankFlowMonth(
                p, dec(bank.inflow[row, j]), dec(bank.outflow[row, j]), dec(bank.end_balance[row, j])
            )
            for j, p in enumerate(periods)
        ],
    )


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--borrowers", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--tiny", action="store_true", help="a run of a second at the TINY sizes, as the tests run it"
    )
    args = parser.parse_args(argv)
    if args.tiny:  # the tiny sizes as defaults: a size given explicitly still wins
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    sample = min(args.sample, args.borrowers)

    electricity, tax, bank = synthetic_panels(args.borrowers, args.seed)
    card = Scorecard.from_dict(expert_scorecard())
    tables = floor_points_tables(card)

    floor_seconds, floor = best_of(
        3, lambda: floor_scores(floor_features(electricity, tax, bank), card, tables)
    )
    vector_seconds, vector = best_of(
        3,
        lambda: card.score_many(
            compute_features_many(FIRST_PERIOD, electricity=electricity, tax=tax, bank_flow=bank)
        ),
    )
    build_start = time.perf_counter()
    inputs = [records(row, electricity, tax, bank) for row in range(sample)]
    build_seconds = time.perf_counter() - build_start
    start = time.perf_counter()
    scalar = [card.score(compute_features(*rows)).score for rows in inputs]
    scalar_seconds = time.perf_counter() - start

    floor_rate = args.borrowers / floor_seconds
    rows = [
        ("floor: bare numpy, dense", args.borrowers, floor_seconds),
        ("vectorised: compute_features_many + score_many", args.borrowers, vector_seconds),
        ("per borrower: compute_features + score", sample, scalar_seconds),
    ]
    print(f"{args.borrowers:,} borrowers x {MONTHS} months x 3 sources (seed {args.seed}), expert scorecard")
    print(f"{'path':<50} {'profiles':>9} {'seconds':>9} {'profiles/s':>12} {'ratio to floor':>15}")
    for label, count, seconds in rows:
        rate = count / seconds
        print(f"{label:<50} {count:>9,} {seconds:>9.3f} {rate:>12,.0f} {rate / floor_rate:>15.4f}")
    print(
        f"building the sample's record objects took {build_seconds:.2f} s "
        f"({sample / build_seconds:,.0f} borrowers/s; not counted above)"
    )
    print(
        f"the per-borrower path would take {args.borrowers / (sample / scalar_seconds):,.0f} s "
        f"for all {args.borrowers:,} borrowers"
    )
    same_vector = int(np.sum(vector[:sample] == np.asarray(scalar)))
    same_floor = int(np.sum(floor == vector))
    print(f"scores equal, vectorised vs per borrower: {same_vector:,} of {sample:,}")
    print(f"scores equal, vectorised vs floor:        {same_floor:,} of {args.borrowers:,}")


if __name__ == "__main__":
    main()
