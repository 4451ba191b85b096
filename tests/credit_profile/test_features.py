"""Features from monthly records: expected values computed by hand in the comments."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_profile.features import (
    BANK_FLOW_FEATURES,
    ELECTRICITY_FEATURES,
    FEATURE_NAMES,
    BankFlowMonth,
    ElectricityMonth,
    SourceCoverage,
    TaxMonth,
    compute_features,
    coverage,
    period_index,
    period_label,
)


def months(first: str, count: int) -> list[str]:
    start = period_index(first)
    return [period_label(start + i) for i in range(count)]


def elec(period: str, kwh: float) -> ElectricityMonth:
    return ElectricityMonth(period, Decimal(str(kwh)), Decimal("0"))


def tax(period: str, sales: float, tax_paid: float = 0, rating: str = "B", arrears: bool = False) -> TaxMonth:
    return TaxMonth(period, Decimal(str(sales)), Decimal(str(tax_paid)), rating, arrears)


def bank(period: str, inflow: float, outflow: float, balance: float = 1000) -> BankFlowMonth:
    return BankFlowMonth(period, Decimal(str(inflow)), Decimal(str(outflow)), Decimal(str(balance)))


# --- periods and coverage -------------------------------------------------------------------------


def test_period_round_trip() -> None:
    assert period_index("2025-01") - period_index("2024-12") == 1
    assert period_label(period_index("2025-10")) == "2025-10"


@pytest.mark.parametrize("bad", ["2025-13", "2025-00", "2025-1", "25-01", "2025/01", " 2025-01", ""])
def test_bad_periods_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_index(bad)
    with pytest.raises(ValueError, match="YYYY-MM"):
        ElectricityMonth(bad, Decimal(1), Decimal(1))


def test_records_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="kwh"):
        ElectricityMonth("2025-01", Decimal(-1), Decimal(0))
    with pytest.raises(ValueError, match="finite"):
        ElectricityMonth("2025-01", Decimal("NaN"), Decimal(0))
    with pytest.raises(ValueError, match="credit_rating"):
        TaxMonth("2025-01", Decimal(1), Decimal(0), "X", False)
    with pytest.raises(ValueError, match="outflow"):
        BankFlowMonth("2025-01", Decimal(1), Decimal(-1), Decimal(0))
    # Negative sales (red-letter corrections) and overdrafts are real and allowed.
    TaxMonth("2025-01", Decimal(-5), Decimal(-1), "A", False)
    BankFlowMonth("2025-01", Decimal(0), Decimal(0), Decimal(-100))


def test_coverage_counts_distinct_months_and_gaps_in_any_order() -> None:
    records = [elec("2025-05", 1), elec("2025-01", 1), elec("2025-02", 1), elec("2025-02", 2)]
    assert coverage(records) == SourceCoverage(
        months=3, gaps=2, latest_period="2025-05", first_period="2025-01"
    )
    assert coverage([]) == SourceCoverage(months=0, gaps=0, latest_period=None, first_period=None)


# --- electricity ----------------------------------------------------------------------------------


def test_electricity_on_a_straight_line() -> None:
    # kWh 100, 110, ..., 210 over 2025-01..2025-12.
    records = [elec(p, 100 + 10 * i) for i, p in enumerate(months("2025-01", 12))]
    features = compute_features(records, [], [])
    # mean = 155
    assert features["elec_kwh_level"] == pytest.approx(155.0)
    # slope 10 kWh per month, times 12, over the mean: 120 / 155
    assert features["elec_trend_12m"] == pytest.approx(120 / 155)
    # population variance of an arithmetic sequence: d^2 (n^2 - 1) / 12 = 100 * 143 / 12
    assert features["elec_volatility"] == pytest.approx(math.sqrt(100 * 143 / 12) / 155)
    assert features["elec_zero_months"] == 0.0
    assert features["elec_yoy"] is None  # no earlier year


def test_trend_keeps_the_true_distance_across_gaps() -> None:
    # 100 + 10 * m for m = 1..12 without months 4 and 8: still one line of slope 10.
    records = [elec(p, 100 + 10 * m) for m, p in enumerate(months("2025-01", 12), start=1) if m not in (4, 8)]
    features = compute_features(records, [], [])
    # remaining m sum to 78 - 12 = 66 over 10 months: mean kWh 100 + 66 = 166
    assert features["elec_kwh_level"] == pytest.approx(166.0)
    assert features["elec_trend_12m"] == pytest.approx(120 / 166)


def test_yoy_compares_the_same_calendar_months_only() -> None:
    prior = [elec(p, 1000 if p == "2024-03" else 100) for p in months("2024-01", 12)]
    # The current March is missing, so the March spike of the earlier year must not count.
    current = [elec(p, 80) for p in months("2025-01", 12) if p != "2025-03"]
    features = compute_features(prior + current, [], [])
    # 11 matched months: 11 * 80 / (11 * 100) - 1
    assert features["elec_yoy"] == pytest.approx(-0.2)


def test_yoy_needs_six_matched_months() -> None:
    prior = [elec(p, 100) for p in months("2024-01", 5)]
    current = [elec(p, 120) for p in months("2025-01", 12)]
    assert compute_features(prior + current, [], [])["elec_yoy"] is None
    prior.append(elec("2024-06", 100))
    assert compute_features(prior + current, [], [])["elec_yoy"] == pytest.approx(0.2)


def test_zero_usage_months_and_zero_mean() -> None:
    records = [elec(p, 0 if i in (1, 4, 5) else 50) for i, p in enumerate(months("2025-01", 8))]
    assert compute_features(records, [], [])["elec_zero_months"] == 3.0

    all_zero = [elec(p, 0) for p in months("2025-01", 12)]
    features = compute_features(all_zero, [], [])
    assert features["elec_kwh_level"] == 0.0
    assert features["elec_zero_months"] == 12.0
    # Relative measures over a zero mean are undefined, not a ZeroDivisionError.
    assert features["elec_trend_12m"] is None
    assert features["elec_volatility"] is None


def test_unsorted_input_gives_the_same_features() -> None:
    records = [elec(p, 100 + (i * 37) % 11) for i, p in enumerate(months("2024-01", 24))]
    shuffled = records[1::2] + records[::2]
    assert compute_features(shuffled, [], []) == compute_features(records, [], [])


def test_the_last_record_of_a_duplicated_period_wins() -> None:
    records = [elec(p, 100) for p in months("2025-01", 6)]
    records.append(elec("2025-03", 700))  # a correction delivered later
    # (100 * 5 + 700) / 6
    assert compute_features(records, [], [])["elec_kwh_level"] == pytest.approx(200.0)


def test_thin_electricity_file_gives_none() -> None:
    five = [elec(p, 100) for p in months("2025-01", 5)]
    assert all(compute_features(five, [], [])[name] is None for name in ELECTRICITY_FEATURES)
    six = [*five, elec("2025-06", 100)]
    assert compute_features(six, [], [])["elec_kwh_level"] == 100.0


def test_window_ends_at_the_latest_month_of_any_source() -> None:
    # Electricity stops in 2025-12 but tax runs to 2026-06: only 2025-07..2025-12 are recent enough.
    electricity = [elec(p, 1000 if p < "2025-07" else 100) for p in months("2025-01", 12)]
    taxes = [tax(p, 1000) for p in months("2025-07", 12)]
    assert compute_features(electricity, taxes, [])["elec_kwh_level"] == pytest.approx(100.0)


def test_as_of_drops_later_records_and_moves_the_window() -> None:
    records = [elec(p, 100 if p <= "2025-06" else 900) for p in months("2025-01", 12)]
    assert compute_features(records, [], [], as_of="2025-06")["elec_kwh_level"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="YYYY-MM"):
        compute_features(records, [], [], as_of="June 2025")


# --- tax ------------------------------------------------------------------------------------------


def test_tax_level_burden_rating_and_arrears() -> None:
    records = [tax(p, 10_000, 300, "A") for p in months("2025-01", 11)]
    # The latest month comes first in the input and carries the newest rating.
    records.insert(0, tax("2025-12", 10_000, 300, "B"))
    features = compute_features([], records, [])
    assert features["tax_sales_12m"] == pytest.approx(120_000.0)
    assert features["tax_burden"] == pytest.approx(0.03)  # 3,600 / 120,000
    assert features["tax_credit_rating"] == "B"
    assert features["tax_arrears_12m"] == 0.0
    assert features["tax_sales_yoy"] is None


def test_tax_sales_growth_on_matched_months() -> None:
    records = [tax(p, 10_000) for p in months("2024-01", 12)] + [
        tax(p, 12_000) for p in months("2025-01", 12)
    ]
    assert compute_features([], records, [])["tax_sales_yoy"] == pytest.approx(0.2)


def test_arrears_only_count_inside_the_last_twelve_months() -> None:
    old = [tax(p, 1000, arrears=p == "2024-06") for p in months("2024-01", 24)]
    assert compute_features([], old, [])["tax_arrears_12m"] == 0.0
    recent = [tax(p, 1000, arrears=p == "2025-06") for p in months("2024-01", 24)]
    assert compute_features([], recent, [])["tax_arrears_12m"] == 1.0


def test_arrears_in_a_thin_file_still_count_but_a_clean_thin_file_proves_nothing() -> None:
    assert compute_features([], [tax("2025-01", 1, arrears=True)], [])["tax_arrears_12m"] == 1.0
    thin = compute_features([], [tax("2025-01", 1)], [])
    assert thin["tax_arrears_12m"] is None
    assert thin["tax_credit_rating"] == "B"  # the rating is a fact even in one month
    assert thin["tax_sales_12m"] is None


def test_zero_sales_give_no_burden_and_no_growth() -> None:
    records = [tax(p, 0, 0) for p in months("2024-01", 24)]
    features = compute_features([], records, [])
    assert features["tax_sales_12m"] == 0.0
    assert features["tax_burden"] is None
    assert features["tax_sales_yoy"] is None


# --- bank flow ------------------------------------------------------------------------------------


def test_bank_flow_features() -> None:
    inflow = [100, 200, 300, 100, 200, 300]
    outflow = [150, 100, 300, 50, 250, 200]
    balance = [5000, -200, 3000, 800, 900, 1000]
    records = [
        bank(p, i, o, b) for p, i, o, b in zip(months("2025-01", 6), inflow, outflow, balance, strict=True)
    ]
    features = compute_features([], [], records)
    assert features["bank_inflow_avg"] == pytest.approx(200.0)
    # deviations -100, 0, 100 twice: variance 20,000 * 2 / 6
    assert features["bank_inflow_cv"] == pytest.approx(math.sqrt(40_000 / 6) / 200)
    # (1,200 - 1,050) / 1,200
    assert features["bank_net_flow_ratio"] == pytest.approx(0.125)
    assert features["bank_min_balance"] == pytest.approx(-200.0)
    # 150 > 100 and 250 > 200; 300 = 300 is not "more"
    assert features["bank_outflow_exceeds_months"] == 2.0


def test_bank_flow_without_inflow_and_thin() -> None:
    nothing_in = [bank(p, 0, 10) for p in months("2025-01", 6)]
    features = compute_features([], [], nothing_in)
    assert features["bank_inflow_avg"] == 0.0
    assert features["bank_inflow_cv"] is None
    assert features["bank_net_flow_ratio"] is None
    assert features["bank_outflow_exceeds_months"] == 6.0
    thin = compute_features([], [], nothing_in[:5])
    assert all(thin[name] is None for name in BANK_FLOW_FEATURES)


def test_no_data_at_all() -> None:
    features = compute_features([], [], [])
    assert list(features) == list(FEATURE_NAMES)
    assert all(value is None for value in features.values())


# --- properties -----------------------------------------------------------------------------------

_periods = st.integers(min_value=period_index("2022-01"), max_value=period_index("2025-12")).map(period_label)
_huge = st.sampled_from([Decimal("1e15"), Decimal("1.7e308"), Decimal("1e309"), Decimal("9e999")])
_amounts = st.one_of(
    st.just(Decimal(0)),
    st.decimals(min_value=0, max_value=10**12, places=2),
    _huge,
)
_signed = st.one_of(_amounts, _amounts.map(lambda d: -d))
_electricity = st.builds(ElectricityMonth, _periods, _amounts, _amounts)
_tax = st.builds(TaxMonth, _periods, _signed, _signed, st.sampled_from("ABMCD"), st.booleans())
_bank = st.builds(BankFlowMonth, _periods, _amounts, _amounts, _signed)


@settings(max_examples=300, deadline=None)
@given(
    electricity=st.lists(_electricity, max_size=40),
    taxes=st.lists(_tax, max_size=40),
    flows=st.lists(_bank, max_size=40),
    as_of=st.one_of(st.none(), _periods),
)
def test_features_never_raise_and_are_finite_or_none(
    electricity: list[ElectricityMonth],
    taxes: list[TaxMonth],
    flows: list[BankFlowMonth],
    as_of: str | None,
) -> None:
    features = compute_features(electricity, taxes, flows, as_of=as_of)
    assert list(features) == list(FEATURE_NAMES)
    for name, value in features.items():
        if name == "tax_credit_rating":
            assert value in (None, "A", "B", "M", "C", "D")
        else:
            assert value is None or (isinstance(value, float) and math.isfinite(value)), (name, value)
    # Input order never matters (duplicates aside, which the hypothesis lists may well contain).
    if len({r.period for r in electricity}) == len(electricity):
        reordered = compute_features(electricity[::-1], taxes, flows, as_of=as_of)
        assert {n: reordered[n] for n in ELECTRICITY_FEATURES} == {
            n: features[n] for n in ELECTRICITY_FEATURES
        }
