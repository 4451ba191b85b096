"""The expert scorecard's shape and behaviour on typical borrowers, and the reason codes it yields."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from credit_profile.expert import EXPERT_VERSION, expert_scorecard
from credit_profile.explain import TEXTS, reasons
from credit_profile.features import (
    FEATURE_NAMES,
    BankFlowMonth,
    ElectricityMonth,
    TaxMonth,
    compute_features,
    period_index,
    period_label,
)
from credit_profile.scorecard import Scorecard

# +1: more is better (points never fall as the value rises); -1: more is worse.
DIRECTION = {
    "elec_yoy": +1,
    "elec_trend_12m": +1,
    "elec_volatility": -1,
    "elec_zero_months": -1,
    "tax_sales_12m": +1,
    "tax_sales_yoy": +1,
    "tax_burden": +1,
    "tax_arrears_12m": -1,
    "bank_inflow_cv": -1,
    "bank_net_flow_ratio": +1,
    "bank_min_balance": +1,
    "bank_outflow_exceeds_months": -1,
}
RATINGS_BEST_FIRST = ["A", "B", "M", "C", "D"]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def card() -> Scorecard:
    return Scorecard.from_dict(expert_scorecard())


def periods(count: int) -> list[str]:
    start = period_index("2024-01")
    return [period_label(start + i) for i in range(count)]


def strong_records() -> tuple[list[ElectricityMonth], list[TaxMonth], list[BankFlowMonth]]:
    """Two years of a steady, slowly growing manufacturer with a summer peak, rating A, no arrears."""
    electricity = [
        ElectricityMonth(p, Decimal(1000 + 15 * i + (80 if i % 12 in (6, 7) else 0)), Decimal(700))
        for i, p in enumerate(periods(24))
    ]
    taxes = [
        TaxMonth(p, Decimal(150_000 + 2000 * i), Decimal(4500 + 60 * i), "A", False)
        for i, p in enumerate(periods(24))
    ]
    flows = [
        BankFlowMonth(
            p, Decimal(160_000 + (5000 if i % 2 else -5000)), Decimal(145_000), Decimal(90_000 + 1000 * i)
        )
        for i, p in enumerate(periods(24))
    ]
    return electricity, taxes, flows


def collapsing_electricity() -> list[ElectricityMonth]:
    """A steady year, then consumption falling by 110 kWh a month to zero."""
    return [
        ElectricityMonth(p, Decimal(max(0, 1000 - (0 if i < 12 else 110 * (i - 11)))), Decimal(700))
        for i, p in enumerate(periods(24))
    ]


def weak_tax() -> list[TaxMonth]:
    """Falling sales, a D rating and arrears in the last year."""
    return [
        TaxMonth(p, Decimal(100_000 - (0 if i < 12 else 6000 * (i - 11))), Decimal(300), "D", i == 20)
        for i, p in enumerate(periods(24))
    ]


def weak_flows() -> list[BankFlowMonth]:
    """Spending more than comes in every month, the balance sliding into overdraft."""
    return [
        BankFlowMonth(
            p,
            Decimal(60_000 - (0 if i < 12 else 3000 * (i - 11))),
            Decimal(70_000),
            Decimal(20_000 - 3000 * i),
        )
        for i, p in enumerate(periods(24))
    ]


# --- the artefact ---------------------------------------------------------------------------------


def test_artefact_loads_and_round_trips(card: Scorecard) -> None:
    assert card.version == EXPERT_VERSION
    assert card.to_dict() == expert_scorecard()
    assert expert_scorecard() is not expert_scorecard()  # callers get their own copy


def test_every_characteristic_is_a_computed_feature_with_a_known_direction(card: Scorecard) -> None:
    names = {c.name for c in card.characteristics}
    assert names <= set(FEATURE_NAMES)
    assert names == set(DIRECTION) | {"tax_credit_rating"}


def test_numeric_points_are_monotone_in_the_sensible_direction() -> None:
    for characteristic in expert_scorecard()["characteristics"]:
        if characteristic["kind"] != "numeric":
            continue
        points = [b["points"] for b in characteristic["bins"]]
        if DIRECTION[characteristic["name"]] < 0:
            points.reverse()
        assert points == sorted(points), characteristic["name"]
        assert points[0] < points[-1], f"{characteristic['name']} does not discriminate"


def test_rating_points_fall_from_a_to_d() -> None:
    (rating,) = [c for c in expert_scorecard()["characteristics"] if c["name"] == "tax_credit_rating"]
    points = {value: group["points"] for group in rating["categories"] for value in group["values"]}
    assert list(points) == RATINGS_BEST_FIRST
    ordered = [points[value] for value in RATINGS_BEST_FIRST]
    assert ordered == sorted(ordered, reverse=True)
    assert len(set(ordered)) == len(ordered)


def test_missing_data_is_neutral_within_every_characteristic() -> None:
    for characteristic in expert_scorecard()["characteristics"]:
        groups = characteristic.get("bins") or characteristic["categories"]
        points = [g["points"] for g in groups]
        assert min(points) < characteristic["missing_points"] < max(points), characteristic["name"]


# --- borrowers ------------------------------------------------------------------------------------


def test_no_data_lands_in_the_middle(card: Scorecard) -> None:
    result = card.score(compute_features([], [], []))
    assert result.score == 600
    assert result.grade == "D"


def test_strong_steady_profile_is_grade_a(card: Scorecard) -> None:
    result = card.score(compute_features(*strong_records()))
    assert result.grade == "A"
    assert result.score >= 780


def test_weak_profile_is_grade_e(card: Scorecard) -> None:
    result = card.score(compute_features(collapsing_electricity(), weak_tax(), weak_flows()))
    assert result.grade == "E"
    assert result.score == 300  # clamped


def test_collapsing_electricity_on_its_own_is_clearly_grade_e(card: Scorecard) -> None:
    result = card.score(compute_features(collapsing_electricity(), [], []))
    assert result.grade == "E"
    assert result.score <= 520


def test_arrears_and_a_d_rating_on_their_own_are_clearly_grade_e(card: Scorecard) -> None:
    result = card.score(compute_features([], weak_tax(), []))
    assert result.grade == "E"
    assert result.score <= 520


def test_arrears_and_a_d_rating_pull_a_strong_borrower_out_of_the_top_grades(card: Scorecard) -> None:
    electricity, taxes, flows = strong_records()
    taxes = [TaxMonth(t.period, t.sales, t.tax_paid, "D", t.period == "2025-09") for t in taxes]
    result = card.score(compute_features(electricity, taxes, flows))
    assert result.grade in {"D", "E"}


# --- reasons --------------------------------------------------------------------------------------


def test_no_data_reasons_ask_for_each_source(card: Scorecard) -> None:
    features = compute_features([], [], [])
    found = reasons(card.score(features), features, limit=10)
    assert [r.code for r in found] == [
        "tax_data_missing",
        "bank_flow_data_missing",
        "electricity_data_missing",
    ]
    assert found[0].impact == -93  # 45 (rating A) + 18 + 12 + 10 + 8 best tax points
    assert "纳税数据" in found[0].text


def test_weak_reasons_are_sorted_chinese_and_quote_the_borrower(card: Scorecard) -> None:
    features = compute_features(collapsing_electricity(), weak_tax(), weak_flows())
    result = card.score(features)
    found = reasons(result, features)
    assert len(found) == 4
    impacts = [r.impact for r in found]
    assert impacts == sorted(impacts)
    assert all(i < 0 for i in impacts)
    # The largest shortfalls of the whole card, none left out.
    shortfalls = sorted((round(c.shortfall) for c in result.contributions), reverse=True)
    assert [-i for i in impacts] == shortfalls[:4]
    for reason in found:
        assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", reason.code)
        assert CJK.search(reason.text)
        assert "{" not in reason.text
    assert [r.code for r in found] == [
        "tax_rating_low",
        "tax_arrears",
        "elec_yoy_decline",
        "tax_sales_decline",
    ]
    # elec_yoy = (sum of the last 12 months) / 12,000 - 1 = -66.25%; sales fall 39%
    assert "下降66%" in found[2].text
    assert "下降39%" in found[3].text
    assert "D级" in found[0].text


def test_reason_text_for_a_single_shortfall(card: Scorecard) -> None:
    best: dict[str, float | str | None] = {
        "elec_yoy": -0.35,
        "elec_trend_12m": 0.2,
        "elec_volatility": 0.1,
        "elec_zero_months": 0.0,
        "tax_sales_12m": 9e6,
        "tax_sales_yoy": 0.2,
        "tax_burden": 0.04,
        "tax_credit_rating": "A",
        "tax_arrears_12m": 0.0,
        "bank_inflow_avg": 1e5,
        "bank_inflow_cv": 0.1,
        "bank_net_flow_ratio": 0.1,
        "bank_min_balance": 3e5,
        "bank_outflow_exceeds_months": 1.0,
        "elec_kwh_level": 1000.0,
    }
    (reason,) = reasons(card.score(best), best)
    assert reason.code == "elec_yoy_decline"
    assert reason.text == "近12个月用电量同比下降35%，稳定或提升用电量可提高评分"
    assert reason.impact == -65  # -45 points against the best bin's 20
    assert reason.template == TEXTS["elec_yoy_decline"]
    assert reason.as_dict()["params"] == {"pct": "35%"}


def test_a_feature_missing_inside_an_authorised_source_gets_its_own_reason(card: Scorecard) -> None:
    electricity, taxes, flows = strong_records()
    features = compute_features(electricity[12:], taxes, flows)  # one year only: no year-on-year
    assert features["elec_yoy"] is None
    codes = [r.code for r in reasons(card.score(features), features, limit=10)]
    assert "elec_yoy_unavailable" in codes
    assert "electricity_data_missing" not in codes


def test_limit(card: Scorecard) -> None:
    features = compute_features(collapsing_electricity(), weak_tax(), weak_flows())
    result = card.score(features)
    assert len(reasons(result, features, limit=2)) == 2
    assert reasons(result, features, limit=0) == []
