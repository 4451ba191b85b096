"""Monthly authorised records turned into scorecard features. Pure computation, no I/O.

Conventions shared by every feature (see docs/expert-scorecard.md):

- The reference month is ``as_of`` or, when omitted, the latest period among all records of all
  sources, so that "the last 12 months" are the same calendar months for electricity, tax and bank
  flow. Records after the reference month are ignored (no look-ahead when scoring a past date).
- "Last 12 months" is the calendar window ``as_of - 11 .. as_of``; "the 12 before" is
  ``as_of - 23 .. as_of - 12``. Missing months are gaps, never imputed as zero.
- When several records share a period, the last one in input order wins.
- A feature that cannot be computed from the data at hand (too few months, a zero or negative
  denominator, an overflow) is ``None``. Never an exception, never a non-finite float.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

FeatureValue = float | str | None

WINDOW_MONTHS = 12
MIN_WINDOW_MONTHS = 6
"""Records needed inside the 12-month window for a level, trend, volatility or count feature."""
MIN_YOY_PAIRS = 6
"""Calendar months present in both the last 12 months and the 12 before for a year-on-year change."""

TAX_CREDIT_RATINGS = ("A", "B", "M", "C", "D")

ELECTRICITY_FEATURES = (
    "elec_kwh_level",
    "elec_trend_12m",
    "elec_volatility",
    "elec_yoy",
    "elec_zero_months",
)
TAX_FEATURES = (
    "tax_sales_12m",
    "tax_sales_yoy",
    "tax_burden",
    "tax_credit_rating",
    "tax_arrears_12m",
)
BANK_FLOW_FEATURES = (
    "bank_inflow_avg",
    "bank_inflow_cv",
    "bank_net_flow_ratio",
    "bank_min_balance",
    "bank_outflow_exceeds_months",
)
FEATURE_NAMES = ELECTRICITY_FEATURES + TAX_FEATURES + BANK_FLOW_FEATURES

PERIOD_PATTERN = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


def period_index(period: str) -> int:
    """Months since year 0 for a ``YYYY-MM`` period; raises ValueError on any other shape."""
    match = PERIOD_PATTERN.fullmatch(period)
    if match is None:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def period_label(index: int) -> str:
    """Inverse of `period_index`."""
    year, month0 = divmod(index, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def _check_finite(**values: Decimal) -> None:
    for name, value in values.items():
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite Decimal, got {value!r}")


def _check_non_negative(**values: Decimal) -> None:
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value!r}")


@dataclass(frozen=True, slots=True)
class ElectricityMonth:
    """One month of a meter's consumption. Raises ValueError on a bad period or a negative amount."""

    period: str
    kwh: Decimal
    bill_amount: Decimal

    def __post_init__(self) -> None:
        period_index(self.period)
        _check_finite(kwh=self.kwh, bill_amount=self.bill_amount)
        _check_non_negative(kwh=self.kwh, bill_amount=self.bill_amount)


@dataclass(frozen=True, slots=True)
class TaxMonth:
    """One month of VAT declarations. Sales and tax may be negative (red-letter invoice corrections).

    Raises ValueError on a bad period, a non-finite amount or a rating outside A, B, M, C, D.
    """

    period: str
    sales: Decimal
    tax_paid: Decimal
    credit_rating: str
    arrears: bool

    def __post_init__(self) -> None:
        period_index(self.period)
        _check_finite(sales=self.sales, tax_paid=self.tax_paid)
        if self.credit_rating not in TAX_CREDIT_RATINGS:
            raise ValueError(f"credit_rating must be one of {TAX_CREDIT_RATINGS}, got {self.credit_rating!r}")


@dataclass(frozen=True, slots=True)
class BankFlowMonth:
    """One month of an account's flows. End balance may be negative (overdraft).

    Raises ValueError on a bad period, a non-finite amount or a negative inflow or outflow.
    """

    period: str
    inflow: Decimal
    outflow: Decimal
    end_balance: Decimal

    def __post_init__(self) -> None:
        period_index(self.period)
        _check_finite(inflow=self.inflow, outflow=self.outflow, end_balance=self.end_balance)
        _check_non_negative(inflow=self.inflow, outflow=self.outflow)


class HasPeriod(Protocol):
    @property
    def period(self) -> str: ...


R = TypeVar("R", bound=HasPeriod)


@dataclass(frozen=True, slots=True)
class SourceCoverage:
    months: int
    """Distinct periods present."""
    gaps: int
    """Months missing between the first and the latest period."""
    latest_period: str | None
    first_period: str | None


def coverage(records: Iterable[HasPeriod]) -> SourceCoverage:
    """How many months a source covers and how many are missing in between.

    Raises ValueError on a period that is not ``YYYY-MM``.
    """
    indices = {period_index(record.period) for record in records}
    if not indices:
        return SourceCoverage(months=0, gaps=0, latest_period=None, first_period=None)
    first, latest = min(indices), max(indices)
    return SourceCoverage(
        months=len(indices),
        gaps=latest - first + 1 - len(indices),
        latest_period=period_label(latest),
        first_period=period_label(first),
    )


def by_month(records: Iterable[R], *, as_of: int | None = None) -> dict[int, R]:
    """Records keyed by month index, last record of a period winning, months after ``as_of`` dropped."""
    months: dict[int, R] = {}
    for record in records:
        index = period_index(record.period)
        if as_of is None or index <= as_of:
            months[index] = record
    return dict(sorted(months.items()))


# Small numeric helpers. They work on floats and give None instead of inf or nan, which is what
# float arithmetic produces once Decimal amounts beyond ~1e308 (or their squares) are involved.
# `x * x` rather than `x ** 2`, and `_sum` rather than bare `math.fsum`, because those two raise
# OverflowError where plain multiplication and addition quietly give inf.


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _sum(values: Iterable[float]) -> float:
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):  # intermediate overflow, or inf - inf
        return math.nan


def _ratio(numerator: float, denominator: float) -> float | None:
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator <= 0:
        return None
    return _finite(numerator / denominator)


def _mean(values: Sequence[float]) -> float | None:
    if not values:
        return None
    return _ratio(_sum(values), float(len(values)))


def _cv(values: Sequence[float]) -> float | None:
    """Coefficient of variation with the population standard deviation; None unless the mean is positive."""
    mean = _mean(values)
    if mean is None or mean <= 0:
        return None
    variance = _mean([(value - mean) * (value - mean) for value in values])
    if variance is None:
        return None
    return _ratio(math.sqrt(variance), mean)


def _relative_slope(points: Mapping[int, float]) -> float | None:
    """Least-squares slope over month indices (gaps keep their true distance), times 12, over the mean.

    So -0.3 reads "the fitted line falls by 30% of an average month's value over a year".
    """
    mean_y = _mean(list(points.values()))
    if mean_y is None or mean_y <= 0 or len(points) < 2:
        return None
    mean_x = _sum(float(x) for x in points) / len(points)
    sxx = _sum((x - mean_x) * (x - mean_x) for x in points)
    sxy = _sum((x - mean_x) * (y - mean_y) for x, y in points.items())
    slope = _ratio(sxy, sxx)
    return None if slope is None else _ratio(slope * WINDOW_MONTHS, mean_y)


def _yoy(months: Mapping[int, float], as_of: int) -> float | None:
    """Last 12 months over the 12 before on calendar months present in both years only, minus one."""
    pairs = [
        (months[index], months[index - WINDOW_MONTHS])
        for index in range(as_of - WINDOW_MONTHS + 1, as_of + 1)
        if index in months and index - WINDOW_MONTHS in months
    ]
    if len(pairs) < MIN_YOY_PAIRS:
        return None
    change = _ratio(_sum(now for now, _ in pairs), _sum(before for _, before in pairs))
    return None if change is None else change - 1.0


def _window(months: Mapping[int, R], as_of: int) -> list[R]:
    return [record for index, record in months.items() if as_of - WINDOW_MONTHS < index <= as_of]


def _values(months: Mapping[int, R], attribute: Callable[[R], Decimal]) -> dict[int, float]:
    return {index: float(attribute(record)) for index, record in months.items()}


def _count(condition: Iterable[bool]) -> float:
    return float(sum(1 for hit in condition if hit))


def electricity_features(months: Mapping[int, ElectricityMonth], as_of: int) -> dict[str, FeatureValue]:
    """Level, trend, volatility, seasonally adjusted year-on-year change and zero-usage months."""
    kwh = _values(months, lambda record: record.kwh)
    window = {index: value for index, value in kwh.items() if as_of - WINDOW_MONTHS < index <= as_of}
    enough = len(window) >= MIN_WINDOW_MONTHS
    values = list(window.values())
    return {
        "elec_kwh_level": _mean(values) if enough else None,
        "elec_trend_12m": _relative_slope(window) if enough else None,
        "elec_volatility": _cv(values) if enough else None,
        "elec_yoy": _yoy(kwh, as_of),
        "elec_zero_months": _count(value == 0 for value in values) if enough else None,
    }


def tax_features(months: Mapping[int, TaxMonth], as_of: int) -> dict[str, FeatureValue]:
    """Sales level and growth, tax burden, latest credit rating and arrears in the last 12 months.

    Arrears found in any month count even in a thin file; "no arrears" needs the usual coverage.
    The rating is the latest record's, however old, because ratings are assessed yearly.
    """
    window = _window(months, as_of)
    enough = len(window) >= MIN_WINDOW_MONTHS
    sales = _sum(float(record.sales) for record in window)
    tax_paid = _sum(float(record.tax_paid) for record in window)
    latest = months[max(months)] if months else None
    arrears: float | None = None
    if any(record.arrears for record in window):
        arrears = 1.0
    elif enough:
        arrears = 0.0
    return {
        "tax_sales_12m": _finite(sales) if enough else None,
        "tax_sales_yoy": _yoy(_values(months, lambda record: record.sales), as_of),
        "tax_burden": _ratio(tax_paid, sales) if enough else None,
        "tax_credit_rating": latest.credit_rating if latest is not None else None,
        "tax_arrears_12m": arrears,
    }


def bank_flow_features(months: Mapping[int, BankFlowMonth], as_of: int) -> dict[str, FeatureValue]:
    """Average inflow, its volatility, net flow ratio, minimum balance, months spending more than earned."""
    window = _window(months, as_of)
    if len(window) < MIN_WINDOW_MONTHS:
        return dict.fromkeys(BANK_FLOW_FEATURES)
    inflows = [float(record.inflow) for record in window]
    total_in = _sum(inflows)
    total_out = _sum(float(record.outflow) for record in window)
    return {
        "bank_inflow_avg": _mean(inflows),
        "bank_inflow_cv": _cv(inflows),
        "bank_net_flow_ratio": _ratio(total_in - total_out, total_in),
        "bank_min_balance": _finite(min(float(record.end_balance) for record in window)),
        "bank_outflow_exceeds_months": _count(record.outflow > record.inflow for record in window),
    }


def compute_features(
    electricity: Sequence[ElectricityMonth],
    tax: Sequence[TaxMonth],
    bank_flow: Sequence[BankFlowMonth],
    *,
    as_of: str | None = None,
) -> dict[str, FeatureValue]:
    """All features, keyed by `FEATURE_NAMES`, for records in any order and with gaps.

    Raises ValueError only for an ``as_of`` that is not ``YYYY-MM``; thin or odd data gives None values.
    """
    reference = period_index(as_of) if as_of is not None else None
    elec = by_month(electricity, as_of=reference)
    taxes = by_month(tax, as_of=reference)
    bank = by_month(bank_flow, as_of=reference)
    if reference is None:
        reference = max([*elec, *taxes, *bank], default=None)
    if reference is None:
        return dict.fromkeys(FEATURE_NAMES)
    return {
        **electricity_features(elec, reference),
        **tax_features(taxes, reference),
        **bank_flow_features(bank, reference),
    }


# --- many borrowers at once ------------------------------------------------------------------------
#
# The same features for a panel of borrowers whose records sit on one calendar axis of months, as
# numpy arrays (rows = borrowers, columns = months from ``first_period``). Every rule above holds:
# the reference month, the windows, gaps, the minimum counts and None (here NaN, or None in the
# rating column). Sums are float64 pairwise sums where the scalar path uses exact ``math.fsum``, so
# values agree to about 1e-12 relative, not always to the last bit.

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
NO_RATING = -1


@dataclass(frozen=True)
class ElectricityPanel:
    """``kwh`` per borrower and month; NaN where the month has no record."""

    kwh: FloatArray


@dataclass(frozen=True)
class TaxPanel:
    """Sales, tax and arrears per borrower and month; ``sales`` NaN where the month has no record.
    ``credit_rating`` holds indices into ``TAX_CREDIT_RATINGS`` (``NO_RATING`` without a record)."""

    sales: FloatArray
    tax_paid: FloatArray
    credit_rating: IntArray
    arrears: BoolArray


@dataclass(frozen=True)
class BankFlowPanel:
    """Flows per borrower and month; ``inflow`` NaN where the month has no record."""

    inflow: FloatArray
    outflow: FloatArray
    end_balance: FloatArray


@dataclass(frozen=True)
class _Axis:
    columns: FloatArray
    """Absolute month index of every column (as float, like the scalar path's x values)."""
    reference: FloatArray
    """Reference month per row; NaN for a row with no record at all (every feature None)."""


def compute_features_many(
    first_period: str,
    *,
    electricity: ElectricityPanel | None = None,
    tax: TaxPanel | None = None,
    bank_flow: BankFlowPanel | None = None,
    as_of: str | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """`compute_features` for every row of the panels: a float array per feature (NaN = None) and an
    object array of ratings (None = missing) for ``tax_credit_rating``, ready for
    `Scorecard.score_many`. Column ``j`` of every panel array is the month ``first_period + j``.

    Raises ValueError for a bad ``first_period`` or ``as_of``, panels of different shapes, or no panel.
    """
    base = period_index(first_period)
    present = {
        "electricity": None if electricity is None else ~np.isnan(electricity.kwh),
        "tax": None if tax is None else ~np.isnan(tax.sales),
        "bank_flow": None if bank_flow is None else ~np.isnan(bank_flow.inflow),
    }
    shapes = {mask.shape for mask in present.values() if mask is not None}
    if len(shapes) != 1:
        raise ValueError(f"give at least one panel, all of one shape; got shapes {sorted(shapes)}")
    ((rows, width),) = shapes
    columns = np.arange(base, base + width, dtype=np.float64)
    if as_of is not None:
        limit = period_index(as_of)
        present = {k: None if m is None else m & (columns <= limit) for k, m in present.items()}
        reference = np.full(rows, float(limit))
    else:
        latest = np.full(rows, np.nan)
        for mask in present.values():
            if mask is not None:
                last = np.where(mask, columns, -np.inf).max(axis=1)
                latest = np.fmax(latest, np.where(np.isfinite(last), last, np.nan))
        reference = latest
    axis = _Axis(columns=columns, reference=reference)
    empty = np.full(rows, np.nan)
    result: dict[str, npt.NDArray[Any]] = {}
    if electricity is not None and present["electricity"] is not None:
        result.update(_electricity_many(electricity, present["electricity"], axis))
    else:
        result.update(dict.fromkeys(ELECTRICITY_FEATURES, empty))
    if tax is not None and present["tax"] is not None:
        result.update(_tax_many(tax, present["tax"], axis))
    else:
        result.update(dict.fromkeys(TAX_FEATURES, empty))
        result["tax_credit_rating"] = np.full(rows, None, dtype=object)
    if bank_flow is not None and present["bank_flow"] is not None:
        result.update(_bank_flow_many(bank_flow, present["bank_flow"], axis))
    else:
        result.update(dict.fromkeys(BANK_FLOW_FEATURES, empty))
    return {name: result[name] for name in FEATURE_NAMES}


def _in_window(present: BoolArray, axis: _Axis) -> BoolArray:
    reference = axis.reference[:, None]
    with np.errstate(invalid="ignore"):
        window: BoolArray = present & (axis.columns > reference - WINDOW_MONTHS) & (axis.columns <= reference)
    return window


def _finite_or_nan(values: FloatArray) -> FloatArray:
    return np.where(np.isfinite(values), values, np.nan)


def _sum_where(mask: BoolArray, values: FloatArray) -> FloatArray:
    # A matrix-vector product sums short rows several times faster than ``sum(axis=1)``.
    total: FloatArray = np.where(mask, values, 0.0) @ np.ones(mask.shape[1])
    return total


def _ratio_many(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)
    return _finite_or_nan(np.where(np.isfinite(numerator) & np.isfinite(denominator), ratio, np.nan))


def _mean_many(mask: BoolArray, values: FloatArray) -> FloatArray:
    return _ratio_many(_sum_where(mask, values), mask.sum(axis=1).astype(np.float64))


def _cv_many(mask: BoolArray, values: FloatArray) -> FloatArray:
    mean = _mean_many(mask, values)
    with np.errstate(invalid="ignore", over="ignore"):
        deviation = values - mean[:, None]
        variance = _mean_many(mask, deviation * deviation)
        cv = _ratio_many(np.sqrt(variance), mean)
    return np.where(mean > 0, cv, np.nan)


def _relative_slope_many(mask: BoolArray, values: FloatArray, axis: _Axis) -> FloatArray:
    count = mask.sum(axis=1).astype(np.float64)
    mean_y = _mean_many(mask, values)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean_x = _sum_where(mask, np.broadcast_to(axis.columns, mask.shape)) / count
        dx = np.where(mask, axis.columns - mean_x[:, None], 0.0)
        dy = np.where(mask, values - mean_y[:, None], 0.0)
        sxx = (dx * dx).sum(axis=1)
        sxy = (dx * dy).sum(axis=1)
        slope = _ratio_many(sxy, sxx)
        result = _ratio_many(slope * WINDOW_MONTHS, mean_y)
    return np.where((mean_y > 0) & (count >= 2), result, np.nan)


def _yoy_many(present: BoolArray, window: BoolArray, values: FloatArray) -> FloatArray:
    before_present = np.zeros_like(present)
    before_present[:, WINDOW_MONTHS:] = present[:, :-WINDOW_MONTHS]
    before_values = np.zeros_like(values)
    before_values[:, WINDOW_MONTHS:] = values[:, :-WINDOW_MONTHS]
    pairs = window & before_present
    change = _ratio_many(_sum_where(pairs, values), _sum_where(pairs, before_values)) - 1.0
    return np.where(pairs.sum(axis=1) >= MIN_YOY_PAIRS, change, np.nan)


def _electricity_many(panel: ElectricityPanel, present: BoolArray, axis: _Axis) -> dict[str, FloatArray]:
    kwh = panel.kwh
    window = _in_window(present, axis)
    enough = window.sum(axis=1) >= MIN_WINDOW_MONTHS
    zero_months = (window & (kwh == 0)).sum(axis=1).astype(np.float64)
    return {
        "elec_kwh_level": np.where(enough, _mean_many(window, kwh), np.nan),
        "elec_trend_12m": np.where(enough, _relative_slope_many(window, kwh, axis), np.nan),
        "elec_volatility": np.where(enough, _cv_many(window, kwh), np.nan),
        "elec_yoy": _yoy_many(present, window, kwh),
        "elec_zero_months": np.where(enough, zero_months, np.nan),
    }


def _tax_many(panel: TaxPanel, present: BoolArray, axis: _Axis) -> dict[str, npt.NDArray[Any]]:
    window = _in_window(present, axis)
    enough = window.sum(axis=1) >= MIN_WINDOW_MONTHS
    sales = _finite_or_nan(_sum_where(window, panel.sales))
    tax_paid = _sum_where(window, panel.tax_paid)
    # The rating is the latest record's, however old (months after the reference are already masked).
    last = np.where(present.any(axis=1), present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1), -1)
    latest_code = panel.credit_rating[np.arange(present.shape[0]), np.maximum(last, 0)]
    codes = np.where(last >= 0, latest_code, NO_RATING)
    labels = np.array([*TAX_CREDIT_RATINGS, None], dtype=object)
    arrears_seen = (window & panel.arrears).any(axis=1)
    return {
        "tax_sales_12m": np.where(enough, sales, np.nan),
        "tax_sales_yoy": _yoy_many(present, window, panel.sales),
        "tax_burden": np.where(enough, _ratio_many(tax_paid, sales), np.nan),
        "tax_credit_rating": labels[np.where(codes >= 0, codes, len(TAX_CREDIT_RATINGS))],
        "tax_arrears_12m": np.where(arrears_seen, 1.0, np.where(enough, 0.0, np.nan)),
    }


def _bank_flow_many(panel: BankFlowPanel, present: BoolArray, axis: _Axis) -> dict[str, FloatArray]:
    window = _in_window(present, axis)
    enough = window.sum(axis=1) >= MIN_WINDOW_MONTHS
    total_in = _sum_where(window, panel.inflow)
    total_out = _sum_where(window, panel.outflow)
    minimum = np.where(window, panel.end_balance, np.inf).min(axis=1)
    exceeds = (window & (panel.outflow > panel.inflow)).sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        net = total_in - total_out
    return {
        "bank_inflow_avg": np.where(enough, _mean_many(window, panel.inflow), np.nan),
        "bank_inflow_cv": np.where(enough, _cv_many(window, panel.inflow), np.nan),
        "bank_net_flow_ratio": np.where(enough, _ratio_many(net, total_in), np.nan),
        "bank_min_balance": np.where(enough, _finite_or_nan(minimum), np.nan),
        "bank_outflow_exceeds_months": np.where(enough, exceeds, np.nan),
    }
