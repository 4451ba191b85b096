"""The vectorised features path gives the scalar path's numbers, row by row, on random panels."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from credit_profile.expert import expert_scorecard
from credit_profile.features import (
    FEATURE_NAMES,
    NO_RATING,
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

FIRST = "2023-01"
WIDTH = 30


def cents(rng, shape, low, high):
    return rng.integers(low * 100, high * 100, size=shape) / 100.0


def random_panel(seed: int, rows: int = 300):
    """Gappy, ragged months (each row's own density and last month), zeros, flat series, negatives."""
    rng = np.random.default_rng(seed)
    shape = (rows, WIDTH)

    def presence():
        density = rng.uniform(0.2, 1.0, size=(rows, 1))
        last = rng.integers(0, WIDTH + 1, size=(rows, 1))
        mask = (rng.random(shape) < density) & (np.arange(WIDTH) < last)
        mask[rng.random(rows) < 0.1] = False  # some rows lack the source altogether
        return mask

    kwh = cents(rng, shape, 0, 5000)
    kwh[rng.random(shape) < 0.1] = 0.0
    kwh[: rows // 20] = 1234.5  # flat series: zero volatility and trend
    kwh[rows // 20 : rows // 10] = 0.0  # all-zero series: no positive mean
    sales = cents(rng, shape, -2000, 100000)
    tax_paid = np.round(sales * rng.uniform(0.0, 0.06, size=shape), 2)
    inflow = cents(rng, shape, 0, 80000)
    outflow = np.where(rng.random(shape) < 0.1, inflow, cents(rng, shape, 0, 80000))
    panels = {
        "electricity": ElectricityPanel(kwh=np.where(presence(), kwh, np.nan)),
        "tax": None,
        "bank_flow": BankFlowPanel(
            inflow=np.where(presence(), inflow, np.nan),
            outflow=outflow,
            end_balance=cents(rng, shape, -5000, 50000),
        ),
    }
    tax_present = presence()
    panels["tax"] = TaxPanel(
        sales=np.where(tax_present, sales, np.nan),
        tax_paid=tax_paid,
        credit_rating=np.where(tax_present, rng.integers(0, len(TAX_CREDIT_RATINGS), size=shape), NO_RATING),
        arrears=rng.random(shape) < 0.05,
    )
    return panels


def records_of(panels, row: int):
    """The same row as the scalar path's records, in a shuffled order."""
    dec = lambda value: Decimal(repr(float(value)))  # noqa: E731 - exact: float(dec(v)) == v
    period = lambda j: period_label(period_index(FIRST) + j)  # noqa: E731
    e, t, b = panels["electricity"], panels["tax"], panels["bank_flow"]
    electricity = [
        ElectricityMonth(period(j), dec(e.kwh[row, j]), Decimal(0))
        for j in range(WIDTH)
        if not math.isnan(e.kwh[row, j])
    ]
    tax = [
        TaxMonth(
            period(j),
            dec(t.sales[row, j]),
            dec(t.tax_paid[row, j]),
            TAX_CREDIT_RATINGS[t.credit_rating[row, j]],
            bool(t.arrears[row, j]),
        )
        for j in range(WIDTH)
        if not math.isnan(t.sales[row, j])
    ]
    bank = [
        BankFlowMonth(period(j), dec(b.inflow[row, j]), dec(b.outflow[row, j]), dec(b.end_balance[row, j]))
        for j in range(WIDTH)
        if not math.isnan(b.inflow[row, j])
    ]
    return electricity[::-1], tax, bank[::2] + bank[1::2]


def agree(scalar, vector) -> bool:
    if scalar is None:
        return vector is None or (isinstance(vector, float) and math.isnan(vector))
    if isinstance(scalar, str):
        return scalar == vector
    return math.isclose(scalar, float(vector), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("as_of", [None, "2024-09", "2025-06", "2022-12"])
@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_features_and_scores_equal_the_scalar_path(seed, as_of):
    panels = random_panel(seed)
    many = compute_features_many(FIRST, **panels, as_of=as_of)
    card = Scorecard.from_dict(expert_scorecard())
    scores = card.score_many(many)
    computed = dict.fromkeys(FEATURE_NAMES, 0)
    for row in range(300):
        scalar = compute_features(*records_of(panels, row), as_of=as_of)
        for name in FEATURE_NAMES:
            vector = many[name][row]
            assert agree(scalar[name], vector), (row, name, scalar[name], vector)
            computed[name] += scalar[name] is not None
        assert card.score(scalar).score == scores[row], row
    if as_of == "2022-12":  # before the first month: nothing to compute
        assert set(computed.values()) == {0}
    else:  # every feature was compared on real values, not only on None
        assert min(computed.values()) >= 10, computed


def test_missing_panels_and_shapes():
    panels = random_panel(3, rows=20)
    only_bank = compute_features_many(FIRST, bank_flow=panels["bank_flow"])
    assert np.isnan(only_bank["elec_kwh_level"]).all() and set(only_bank["tax_credit_rating"]) == {None}
    assert not np.isnan(only_bank["bank_inflow_avg"]).all()
    with pytest.raises(ValueError, match="shape"):
        compute_features_many(FIRST)
    with pytest.raises(ValueError, match="shape"):
        compute_features_many(
            FIRST, electricity=ElectricityPanel(kwh=np.ones((3, 4))), bank_flow=panels["bank_flow"]
        )
    with pytest.raises(ValueError, match="YYYY-MM"):
        compute_features_many("2023-1", bank_flow=panels["bank_flow"])
