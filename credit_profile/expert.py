"""The default expert scorecard, used until a statistical one has been trained and approved.

Every characteristic, bin edge and point value is justified in docs/expert-scorecard.md. Points are on
the scale of the artefact's ``scaling``: 40 points double the good:bad odds, so a bin worth -40 against
a bin worth 0 says "a borrower here is about twice as likely to go bad". Missing values earn 0 points,
which makes a borrower with no data at all score exactly ``offset_points`` (600, grade D, just below C).
"""

from __future__ import annotations

import copy
from typing import Any, Final

from credit_profile.scorecard import FORMAT

EXPERT_VERSION: Final = "expert-2026.11"

# (upper bound, points) pairs: a value falls into the first bin whose upper bound it is strictly below;
# None is +infinity. Kept as tuples so the table reads like the one in the documentation.
_NumericBins = tuple[tuple[float | None, float], ...]

_NUMERIC: Final[tuple[tuple[str, str, _NumericBins], ...]] = (
    (
        "elec_yoy",
        "用电量同比变化",
        ((-0.30, -45.0), (-0.10, -20.0), (0.0, 0.0), (0.10, 12.0), (None, 20.0)),
    ),
    (
        "elec_trend_12m",
        "近12个月用电趋势",
        ((-0.40, -25.0), (-0.10, -10.0), (0.10, 5.0), (None, 10.0)),
    ),
    (
        "elec_volatility",
        "用电量波动系数",
        ((0.15, 15.0), (0.30, 8.0), (0.60, 0.0), (1.00, -10.0), (None, -20.0)),
    ),
    (
        "elec_zero_months",
        "近12个月零用电月数",
        ((0.5, 10.0), (2.5, 0.0), (5.5, -20.0), (None, -40.0)),
    ),
    (
        "tax_sales_12m",
        "近12个月申报销售额",
        ((120_000.0, -5.0), (500_000.0, 0.0), (5_000_000.0, 8.0), (None, 12.0)),
    ),
    (
        "tax_sales_yoy",
        "申报销售额同比变化",
        ((-0.30, -35.0), (-0.10, -15.0), (0.0, 0.0), (0.15, 12.0), (None, 18.0)),
    ),
    (
        "tax_burden",
        "增值税税负率",
        ((0.005, -8.0), (0.01, 0.0), (0.03, 5.0), (None, 8.0)),
    ),
    (
        "tax_arrears_12m",
        "近12个月欠税记录",
        ((0.5, 10.0), (None, -70.0)),
    ),
    (
        "bank_inflow_cv",
        "流水入账波动系数",
        ((0.25, 15.0), (0.50, 5.0), (1.00, -5.0), (None, -15.0)),
    ),
    (
        "bank_net_flow_ratio",
        "净现金流比率",
        ((-0.20, -35.0), (-0.05, -15.0), (0.05, 5.0), (None, 15.0)),
    ),
    (
        "bank_min_balance",
        "最低月末余额",
        ((0.0, -30.0), (10_000.0, -10.0), (50_000.0, 5.0), (200_000.0, 12.0), (None, 18.0)),
    ),
    (
        "bank_outflow_exceeds_months",
        "近12个月支出大于收入的月数",
        ((3.5, 10.0), (6.5, 0.0), (9.5, -10.0), (None, -25.0)),
    ),
)

_TAX_CREDIT_RATING_POINTS: Final = (("A", 45.0), ("B", 25.0), ("M", 10.0), ("C", -35.0), ("D", -80.0))

_GRADES: Final = (("A", 750), ("B", 680), ("C", 620), ("D", 560), ("E", 300))


def _build() -> dict[str, Any]:
    characteristics: list[dict[str, Any]] = [
        {
            "name": name,
            "label": label,
            "kind": "numeric",
            "bins": [{"upper": upper, "points": points} for upper, points in bins],
            "missing_points": 0.0,
        }
        for name, label, bins in _NUMERIC
    ]
    # The rating sits with the other tax characteristics so the card reads source by source.
    characteristics.insert(
        [c["name"] for c in characteristics].index("tax_arrears_12m"),
        {
            "name": "tax_credit_rating",
            "label": "纳税信用等级",
            "kind": "categorical",
            "categories": [
                {"values": [value], "points": points} for value, points in _TAX_CREDIT_RATING_POINTS
            ],
            "missing_points": 0.0,
            "other_points": 0.0,
        },
    )
    return {
        "format": FORMAT,
        "version": EXPERT_VERSION,
        "created_at": "2026-11-01T00:00:00+00:00",
        "target_meaning": "1 = bad outcome",
        "scaling": {"base_score": 600, "base_odds": 50, "pdo": 40, "min_score": 300, "max_score": 900},
        "offset_points": 600.0,
        "characteristics": characteristics,
        "grades": [{"grade": grade, "min_score": min_score} for grade, min_score in _GRADES],
        "metadata": {"kind": "expert", "documentation": "docs/expert-scorecard.md"},
    }


_EXPERT_SCORECARD: Final = _build()


def expert_scorecard() -> dict[str, Any]:
    """The expert scorecard artefact (``jihuitong-scorecard/1``), a fresh copy the caller may modify.

    Load it with ``Scorecard.from_dict(expert_scorecard())``. Raises nothing.
    """
    return copy.deepcopy(_EXPERT_SCORECARD)
