"""Reason codes: why a score is not higher, in the borrower's own numbers, and what would raise it.

Each characteristic's shortfall (its best possible points minus the points it earned) is the impact of
one reason. Characteristics of a source whose features are all missing are folded into a single "data
not authorised" reason. Texts are Simplified Chinese format strings marked with `N_` so that Babel can
extract them; a `Reason` keeps its template and parameters so the portal can translate and re-render it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.i18n import N_
from credit_profile.characteristics import characteristic_label
from credit_profile.features import BANK_FLOW_FEATURES, ELECTRICITY_FEATURES, TAX_FEATURES
from credit_profile.scorecard import Contribution, ScoreResult
from credit_profile.scorecard_terms import FeatureValue

TEXTS: dict[str, str] = {
    "electricity_data_missing": N_("尚未授权用电数据或数据不足6个月，授权并积累数据后可获得更准确的评分"),
    "tax_data_missing": N_("尚未授权纳税数据或数据不足6个月，授权并积累数据后可获得更准确的评分"),
    "bank_flow_data_missing": N_("尚未授权银行流水数据或数据不足6个月，授权并积累数据后可获得更准确的评分"),
    "feature_unavailable": N_("{label}暂无法计算（数据月份不足），持续授权并积累数据后可获得更准确的评分"),
    "elec_yoy_decline": N_("近12个月用电量同比下降{pct}，稳定或提升用电量可提高评分"),
    "elec_yoy_low_growth": N_("近12个月用电量同比仅增长{pct}，用电量稳步增长可提高评分"),
    "elec_trend_down": N_("近12个月用电量呈下降趋势（按趋势线平均每月下降{pct}），扭转下降趋势可提高评分"),
    "elec_trend_flat": N_("近12个月用电量增长平缓（按趋势线平均每月增长{pct}），用电量稳步上升可提高评分"),
    "elec_volatile": N_("近12个月用电量波动较大（波动系数{ratio}），保持平稳用电可提高评分"),
    "elec_zero_usage": N_("近12个月有{count}个月用电量为零，保持持续经营用电可提高评分"),
    "tax_sales_small": N_("近12个月申报销售额为{amount}，如实足额申报、扩大经营规模可提高评分"),
    "tax_sales_decline": N_("近12个月申报销售额同比下降{pct}，销售额企稳回升可提高评分"),
    "tax_sales_low_growth": N_("近12个月申报销售额同比仅增长{pct}，销售额持续增长可提高评分"),
    "tax_burden_low": N_("近12个月增值税税负率为{pct}，依法足额申报纳税可提高评分"),
    "tax_rating_low": N_("纳税信用等级为{rating}级，提升纳税信用等级可提高评分"),
    "tax_arrears": N_("近12个月存在欠税记录，及时缴清欠税并按期申报可提高评分"),
    "bank_inflow_volatile": N_(
        "近12个月银行流水入账波动较大（波动系数{ratio}），保持稳定的经营收入可提高评分"
    ),
    "bank_net_outflow": N_("近12个月资金净流出，支出超过收入的{pct}，控制支出、增加经营收入可提高评分"),
    "bank_net_flow_low": N_("近12个月资金净流入仅占收入的{pct}，提高经营结余可提高评分"),
    "bank_balance_low": N_("近12个月最低月末余额为{amount}，保持更充足的账户余额可提高评分"),
    "bank_outflow_months": N_("近12个月有{count}个月支出大于收入，保持收支平衡可提高评分"),
    "characteristic_low": N_("{label}当前为{value}，未达到最优水平，改善该项可提高评分"),
    "pair_low": N_(
        "{first}（{first_value}）与{second}（{second_value}）的组合拉低了评分，改善其中任一项可提高评分"
    ),
    "data_deleted": N_("该项依据的数据已在授权结束后按保留期限删除"),
}

_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("electricity_data_missing", ELECTRICITY_FEATURES),
    ("tax_data_missing", TAX_FEATURES),
    ("bank_flow_data_missing", BANK_FLOW_FEATURES),
)


@dataclass(frozen=True)
class Reason:
    """One reason a score is not higher. ``impact`` is the (negative) number of points it costs."""

    code: str
    text: str
    impact: int
    template: str
    params: Mapping[str, str] = field(default_factory=dict)
    characteristics: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible form, as stored in ``CreditScore.reasons``."""
        return {
            "code": self.code,
            "text": self.text,
            "impact": self.impact,
            "template": self.template,
            "params": dict(self.params),
            "characteristics": list(self.characteristics),
        }


def _pct(value: float, digits: int = 0) -> str:
    return f"{abs(value) * 100:.{digits}f}%"


def _yuan(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 10_000:,.1f}万元"
    return f"{value:,.0f}元"


def _count(value: float) -> str:
    return f"{value:.0f}"


def _number(value: float) -> str:
    return f"{value:.2f}"


# For each characteristic: how to pick the code from the borrower's value and which parameters the
# text needs. Everything here receives a finite float.
_Describe = Callable[[float], tuple[str, dict[str, str]]]

_DESCRIBE: dict[str, _Describe] = {
    "elec_yoy": lambda v: ("elec_yoy_decline" if v < 0 else "elec_yoy_low_growth", {"pct": _pct(v)}),
    # The feature is the fitted change over a year; a monthly rate reads better once it exceeds 100%.
    "elec_trend_12m": lambda v: (
        "elec_trend_down" if v < 0 else "elec_trend_flat",
        {"pct": _pct(v / 12, 1)},
    ),
    "elec_volatility": lambda v: ("elec_volatile", {"ratio": _number(v)}),
    "elec_zero_months": lambda v: ("elec_zero_usage", {"count": _count(v)}),
    "tax_sales_12m": lambda v: ("tax_sales_small", {"amount": _yuan(v)}),
    "tax_sales_yoy": lambda v: ("tax_sales_decline" if v < 0 else "tax_sales_low_growth", {"pct": _pct(v)}),
    "tax_burden": lambda v: ("tax_burden_low", {"pct": _pct(v, 1)}),
    "tax_arrears_12m": lambda v: ("tax_arrears", {}),
    "bank_inflow_cv": lambda v: ("bank_inflow_volatile", {"ratio": _number(v)}),
    "bank_net_flow_ratio": lambda v: (
        "bank_net_outflow" if v < 0 else "bank_net_flow_low",
        {"pct": _pct(v)},
    ),
    "bank_min_balance": lambda v: ("bank_balance_low", {"amount": _yuan(v)}),
    "bank_outflow_exceeds_months": lambda v: ("bank_outflow_months", {"count": _count(v)}),
}


def _impact(shortfall: float) -> int:
    return -math.floor(shortfall + 0.5)


def _reason(key: str, code: str, impact: int, params: dict[str, str], names: tuple[str, ...]) -> Reason:
    template = TEXTS[key]
    return Reason(
        code=code,
        text=template.format(**params),
        impact=impact,
        template=template,
        params=params,
        characteristics=names,
    )


def _shown(value: FeatureValue) -> str:
    if value is None:
        return "暂无数据"
    return _number(value) if isinstance(value, int | float) else str(value)


def _describe(contribution: Contribution, impact: int) -> Reason:
    name, value = contribution.name, contribution.value
    if contribution.pair is not None:
        (first, first_value), (second, second_value) = contribution.pair
        params = {
            "first": characteristic_label(first),
            "first_value": _shown(first_value),
            "second": characteristic_label(second),
            "second_value": _shown(second_value),
        }
        return _reason("pair_low", f"{first}&{second}_low", impact, params, (first, second))
    params = {"label": characteristic_label(name, contribution.label)}
    if value is None:
        return _reason("feature_unavailable", f"{name}_unavailable", impact, params, (name,))
    if name == "tax_credit_rating" and isinstance(value, str):
        return _reason("tax_rating_low", "tax_rating_low", impact, {"rating": value}, (name,))
    describe = _DESCRIBE.get(name)
    if describe is not None and isinstance(value, int | float) and math.isfinite(value):
        key, params = describe(float(value))
        return _reason(key, key, impact, params, (name,))
    # A characteristic this module has no wording for (a trained scorecard may add some).
    params["value"] = _shown(value)
    return _reason("characteristic_low", f"{name}_low", impact, params, (name,))


def _impacts(result: ScoreResult) -> dict[str, int]:
    """Every term's cost in whole points, apportioned (largest remainder) so that they add up exactly:
    the best possible score minus the score, before clamping to the card's range."""
    shortfalls = {c.name: max(c.shortfall, 0.0) for c in result.contributions}
    if result.best_points is None:
        return {name: _impact(s) for name, s in shortfalls.items()}
    best = math.floor(result.best_points + 0.5)
    total = best - math.floor(result.best_points - sum(shortfalls.values()) + 0.5)
    whole = {name: math.floor(s) for name, s in shortfalls.items()}
    left = total - sum(whole.values())
    by_remainder = sorted(shortfalls, key=lambda n: (shortfalls[n] - whole[n], n), reverse=left > 0)
    for name in by_remainder:
        if left == 0:
            break
        if left > 0:
            whole[name] += 1
            left -= 1
        elif whole[name] > 0:
            whole[name] -= 1
            left += 1
    return {name: -points for name, points in whole.items()}


def base_score(result: ScoreResult) -> int:
    """The best possible score under the card for this borrower's terms: the base from which
    ``reasons(..., limit=None)`` subtract their impacts to give the score (before clamping)."""
    if result.best_points is None:
        return result.score - sum(_impacts(result).values())
    return math.floor(result.best_points + 0.5)


def reasons(result: ScoreResult, features: Mapping[str, Any], *, limit: int | None = 4) -> list[Reason]:
    """The ``limit`` reasons that cost the most points, most costly first (ties by code); with
    ``limit=None`` every reason, whose impacts then add up with :func:`base_score` to the score
    (before clamping). A pairwise term's reason names both characteristics and their values.

    A source whose features are all missing from ``features`` gives one "not authorised" reason
    carrying the summed shortfall of its characteristics. Characteristics already at their best
    points give no reason. Raises nothing.
    """
    found: list[Reason] = []
    impacts = _impacts(result)
    pending = [c for c in result.contributions if impacts[c.name] < 0]
    for key, names in _SOURCES:
        if any(features.get(name) is not None for name in names):
            continue
        missing = [c for c in pending if c.name in names and c.value is None and c.pair is None]
        if missing:
            impact = sum(impacts[c.name] for c in missing)
            found.append(_reason(key, key, impact, {}, tuple(c.name for c in missing)))
            folded = {c.name for c in missing}
            pending = [c for c in pending if c.name not in folded]
    found.extend(_describe(c, impacts[c.name]) for c in pending)
    found.sort(key=lambda reason: (reason.impact, reason.code))
    return found if limit is None else found[: max(limit, 0)]
